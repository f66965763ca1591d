import { useState } from "preact/hooks";
import { t } from "../../i18n";

/** A secret or command shown once, with a button that copies it. */
export function Copy({ value, label }: { value: string; label: string }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setCopied(true);
      window.setTimeout(() => setCopied(false), 2000);
    } catch {
      setCopied(false);
    }
  };
  return (
    <div class="copy">
      <pre aria-label={label} tabIndex={0}>
        {value}
      </pre>
      <button type="button" class="btn btn-plain" onClick={copy}>
        {copied ? t("common.copied") : t("common.copy")}
      </button>
    </div>
  );
}
