import { bytes } from "../../utils/format";

/** A transfer's progress: a bar and "1.2 MiB of 4.0 MiB", read out by screen readers. */
export function Progress({ label, done, total }: { label: string; done: number; total: number }) {
  return (
    <div class="progress">
      <progress aria-label={label} max={total || 1} value={Math.min(done, total || 1)} />
      <span class="muted small" role="status">
        {label}: {bytes(done)}
        {total ? ` / ${bytes(total)}` : ""}
      </span>
    </div>
  );
}
