// The page served by `tensorsight serve`: the app over the HTTP API of the same origin.
import { mount } from "./app.js";
import { httpSource } from "./sources/http.js";

mount(document.getElementById("app"), httpSource(), { page: true });
