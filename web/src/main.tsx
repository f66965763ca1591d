import { render } from "preact";
import { App } from "./app";
import "./styles/base.css";
import { warmUp } from "./state/stream";
import { storedTheme, applyTheme } from "./utils/theme";

applyTheme(storedTheme());
// The overview's data starts on its way while the session and the page are still loading.
if (location.pathname === "/servers" || location.pathname === "/") warmUp();
const root = document.getElementById("app");
if (root) {
  root.textContent = "";
  render(<App />, root);
}
