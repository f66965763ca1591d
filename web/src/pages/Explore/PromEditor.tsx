import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { labelNames, labelValues, metricNames } from "../../api/promql";
import { t } from "../../i18n";
import { complete, PROMQL_AGGREGATIONS, PROMQL_FUNCTIONS, Want, wantAt } from "../../utils/promql";

interface Props {
  value: string;
  onChange: (value: string) => void;
  onRun: () => void;
}

/** The PromQL text with completion of metric names, label names and label values (asked of the
 * server as needed and kept for the page's life); Ctrl+Enter runs it. */
export function PromEditor({ value, onChange, onRun }: Props) {
  const area = useRef<HTMLTextAreaElement>(null);
  const cache = useRef(new Map<string, Promise<string[]>>());
  const asked = useRef(0);
  const [offered, setOffered] = useState<string[]>([]);
  const [want, setWant] = useState<Want | null>(null);
  const [active, setActive] = useState(0);
  /** Where the caret goes once an accepted completion is rendered (before any further typing). */
  const caretAfter = useRef<number | null>(null);
  useLayoutEffect(() => {
    const el = area.current;
    if (el && caretAfter.current !== null) {
      el.setSelectionRange(caretAfter.current, caretAfter.current);
      caretAfter.current = null;
    }
  }, [value]);
  const names = (key: string, load: () => Promise<string[]>) => {
    if (!cache.current.has(key)) cache.current.set(key, load().catch(() => (cache.current.delete(key), [])));
    return cache.current.get(key)!;
  };
  useEffect(() => void names("__name__", () => metricNames()), []);
  const refresh = async (text: string, caret: number) => {
    const round = ++asked.current;
    const w = wantAt(text, caret);
    const pool =
      w.kind === "metric"
        ? w.word
          ? [...(await names("__name__", () => metricNames())), ...PROMQL_FUNCTIONS, ...PROMQL_AGGREGATIONS]
          : []
        : w.kind === "label"
          ? await names(`labels:${w.metric}`, () => labelNames(w.metric))
          : await names(`values:${w.metric}:${w.label}`, () => labelValues(w.label, w.metric));
    if (round !== asked.current) return;
    setWant(w);
    setOffered(complete(w.word, pool.filter((n) => n !== "__name__")));
    setActive(0);
  };
  const accept = (choice: string) => {
    const el = area.current;
    if (!el || !want) return;
    const caret = el.selectionStart;
    const next = value.slice(0, want.start) + choice + value.slice(caret);
    caretAfter.current = want.start + choice.length;
    onChange(next);
    setOffered([]);
    el.focus();
  };
  return (
    <div class="editor">
      <label for="promql-text">{t("explore.promql")}</label>
      <textarea
        id="promql-text"
        ref={area}
        rows={4}
        spellcheck={false}
        value={value}
        placeholder="heron_server_cpu"
        role="combobox"
        aria-expanded={offered.length > 0}
        aria-controls="promql-suggestions"
        aria-autocomplete="list"
        aria-activedescendant={offered.length ? `promql-suggestion-${active}` : undefined}
        onInput={(e) => {
          onChange(e.currentTarget.value);
          void refresh(e.currentTarget.value, e.currentTarget.selectionStart);
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
        <ul id="promql-suggestions" class="suggestions" role="listbox" aria-label={t("explore.suggestions")}>
          {offered.map((s, i) => (
            <li key={s} id={`promql-suggestion-${i}`} role="option" aria-selected={i === active} onMouseDown={(e) => (e.preventDefault(), accept(s))}>
              {s}
            </li>
          ))}
        </ul>
      )}
      <small class="muted">{t("explore.promql_keys")}</small>
    </div>
  );
}
