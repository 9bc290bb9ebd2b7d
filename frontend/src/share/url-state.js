// What the page shows, kept in the URL's fragment so a copied link reopens it: the model, the
// sample (or the upload's run, while the server keeps it), the open detail view (node, channel,
// window position, tab) and the colour range. The fragment never reaches the server, so the
// same links work on a static copy of the site.
//
//   #model=TinyVGG&sample=ankle-boot-1&node=n3&channel=2&at=5,7&tab=formula&range=block

const KEYS = ["model", "sample", "run", "node", "channel", "at", "tab", "range"];

// The state a URL fragment describes; unknown keys and malformed values are dropped.
export function readState(hash = window.location.hash) {
  const params = new URLSearchParams(String(hash).replace(/^#/, ""));
  const state = {};
  for (const key of KEYS) {
    const value = params.get(key);
    if (value !== null && value !== "") state[key] = value;
  }
  if (state.channel !== undefined) {
    state.channel = Number.parseInt(state.channel, 10);
    if (!Number.isInteger(state.channel) || state.channel < 0) delete state.channel;
  }
  if (state.at !== undefined) {
    const at = state.at.split(",").map((part) => Number.parseInt(part, 10));
    state.at = at.length === 2 && at.every((n) => Number.isInteger(n) && n >= 0) ? at : undefined;
    if (!state.at) delete state.at;
  }
  return state;
}

// The fragment for a state: keys in a fixed order, empty ones left out.
export function formatState(state) {
  const params = new URLSearchParams();
  for (const key of KEYS) {
    const value = state[key];
    if (value === undefined || value === null || value === "") continue;
    params.set(key, Array.isArray(value) ? value.join(",") : String(value));
  }
  const text = params.toString().replace(/%2C/g, ",");
  return text ? `#${text}` : "";
}

// Keeps the address bar in step with `state` without adding history entries (each hover of
// a detail view would otherwise be a Back step).
export function urlKeeper() {
  let state = {};
  const write = () => {
    const hash = formatState(state);
    const url = `${window.location.pathname}${window.location.search}${hash}`;
    if (url !== `${window.location.pathname}${window.location.search}${window.location.hash}`) {
      window.history.replaceState(null, "", url);
    }
  };
  return {
    // Merge `changes` in (undefined removes a key) and rewrite the URL.
    update(changes) {
      state = { ...state, ...changes };
      for (const [key, value] of Object.entries(state)) if (value === undefined) delete state[key];
      write();
    },
    get state() { return { ...state }; },
  };
}
