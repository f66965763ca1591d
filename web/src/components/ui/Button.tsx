import { ComponentChildren, JSX } from "preact";

type Props = {
  busy?: boolean;
  kind?: "primary" | "danger" | "plain";
  children: ComponentChildren;
} & JSX.ButtonHTMLAttributes<HTMLButtonElement>;

/** A button that shows progress while its action runs (and cannot be pressed twice meanwhile). */
export function Button({ busy = false, kind = "plain", children, disabled, type = "button", ...rest }: Props) {
  return (
    <button
      type={type}
      class={`btn btn-${kind}`}
      disabled={Boolean(disabled) || busy}
      aria-busy={busy}
      {...rest}
    >
      {busy && <span class="spinner" aria-hidden="true" />}
      {children}
    </button>
  );
}
