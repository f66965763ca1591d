import { useEffect, useRef, useState } from "preact/hooks";
import type { StreamServer } from "../../api/types";
import { t } from "../../i18n";
import { Card } from "./Card";

/** Cards appear a screenful or two at a time as the list is scrolled, so 2,000 servers cost what 36 do. */
const STEP = 36;

export function Cards({ servers }: { servers: StreamServer[] }) {
  const [shown, setShown] = useState(STEP);
  const sentinel = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = sentinel.current;
    if (!el) return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) setShown((n) => n + STEP);
    });
    observer.observe(el);
    return () => observer.disconnect();
  }, [servers.length > shown]);
  return (
    <>
      <div class="cards">
        {servers.slice(0, shown).map((s) => (
          <Card key={s.id} s={s} />
        ))}
      </div>
      {servers.length > shown && (
        <div ref={sentinel} class="more">
          <button type="button" class="btn btn-plain" onClick={() => setShown((n) => n + STEP)}>
            {t("servers.show_more", { count: servers.length - shown })}
          </button>
        </div>
      )}
    </>
  );
}
