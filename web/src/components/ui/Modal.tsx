import { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";
import { t } from "../../i18n";

/** A modal dialog on the native <dialog>: focus is kept inside, Escape closes it. */
export function Modal({ title, onClose, children }: { title: string; onClose: () => void; children: ComponentChildren }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    return () => dialog?.close();
  }, []);
  return (
    <dialog ref={ref} class="modal" aria-label={title} onClose={onClose}>
      <header class="modal-head">
        <h2>{title}</h2>
        <button type="button" class="btn btn-plain" onClick={onClose} aria-label={t("common.close")}>
          ×
        </button>
      </header>
      {children}
    </dialog>
  );
}
