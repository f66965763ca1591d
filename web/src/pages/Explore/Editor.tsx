import { useLayoutEffect, useRef, useState } from "preact/hooks";
import { t } from "../../i18n";
import { suggestions, wordAt } from "../../utils/sqlresult";

interface Props {
  value: string;
  names: string[];
  onChange: (value: string) => void;
  onRun: () => void;
}

/** The SQL text with completion of tables, columns and SQL words; Ctrl+Enter runs it. */
export function Editor({ value, names, onChange, onRun }: Props) {
  const area = useRef<HTMLTextAreaElement>(null);
  const [offered, setOffered] = useState<string[]>([]);
  const [active, setActive] = useState(0);
  /** Where the caret goes once an accepted completion is rendered (before any further typing). */
  const caretAfter = useRef<number | null>(null);
  useLayoutEffect(() => {
    if (area.current && caretAfter.current !== null) {
      area.current.setSelectionRange(caretAfter.current, caretAfter.current);
      caretAfter.current = null;
    }
  }, [value]);
  const refresh = (text: string, caret: number) => {
    setOffered(suggestions(wordAt(text, caret).word, names));
    setActive(0);
  };
  const accept = (choice: string) => {
    const el = area.current;
    if (!el) return;
    const caret = el.selectionStart;
    const { start } = wordAt(value, caret);
    const next = value.slice(0, start) + choice + value.slice(caret);
    caretAfter.current = start + choice.length;
    onChange(next);
    setOffered([]);
    el.focus();
  };
  return (
    <div class="editor">
      <label for="sql-text">{t("explore.sql")}</label>
      <textarea
        id="sql-text"
        ref={area}
        rows={6}
        spellcheck={false}
        value={value}
        role="combobox"
        aria-expanded={offered.length > 0}
        aria-controls="sql-suggestions"
        aria-autocomplete="list"
        aria-activedescendant={offered.length ? `sql-suggestion-${active}` : undefined}
        onInput={(e) => {
          onChange(e.currentTarget.value);
          refresh(e.currentTarget.value, e.currentTarget.selectionStart);
        }}
        onKeyDown={(e) => {
          if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
            e.preventDefault();
            setOffered([]);
            onRun();
          } else if (offered.length && (e.key === "ArrowDown" || e.key === "ArrowUp")) {
            e.preventDefault();
            setActive((a) => (a + (e.key === "ArrowDown" ? 1 : offered.length - 1)) % offered.length);
          } else if (offered.length && (e.key === "Tab" || e.key === "Enter")) {
            e.preventDefault();
            accept(offered[active]);
          } else if (e.key === "Escape") {
            setOffered([]);
          }
        }}
        onBlur={() => window.setTimeout(() => setOffered([]), 150)}
      />
      {offered.length > 0 && (
        <ul id="sql-suggestions" class="suggestions" role="listbox" aria-label={t("explore.suggestions")}>
          {offered.map((s, i) => (
            <li key={s} id={`sql-suggestion-${i}`} role="option" aria-selected={i === active} onMouseDown={(e) => (e.preventDefault(), accept(s))}>
              {s}
            </li>
          ))}
        </ul>
      )}
      <small class="muted">{t("explore.keys")}</small>
    </div>
  );
}
