// The page: the app over the HTTP API of the same origin (`tensorsight serve`), or over the
// files of a static copy (`tensorsight export`, which marks #app with data-source="static").
import { mount } from "./app.js";
import { httpSource } from "./sources/http.js";
import { staticSource } from "./sources/static.js";

const root = document.getElementById("app");
mount(root, root.dataset.source === "static" ? staticSource("data/") : httpSource(), { page: true });
