// The page served by `tensorsight serve`: the explainer over the HTTP API of the same origin,
// or GAN Lab when the address is /gan.
import { mount } from "./app.js";
import { mountGan } from "./gan/index.js";
import { httpSource } from "./sources/http.js";

const root = document.getElementById("app");
if (/\/gan\/?$/.test(location.pathname)) mountGan(root);
else mount(root, httpSource(), { page: true });
