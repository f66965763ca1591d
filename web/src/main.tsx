import { render } from "preact";
import { App } from "./app";
import "./styles/base.css";
import { storedTheme, applyTheme } from "./utils/theme";

applyTheme(storedTheme());
const root = document.getElementById("app");
if (root) {
  root.textContent = "";
  render(<App />, root);
}
