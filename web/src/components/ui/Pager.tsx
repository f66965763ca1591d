import { t } from "../../i18n";
import { Button } from "./Button";

/** Previous/next over a paginated list, with where we are ("21–40 of 93"). */
export function Pager({ offset, limit, total, onOffset }: { offset: number; limit: number; total: number; onOffset: (offset: number) => void }) {
  if (total <= limit && offset === 0) return null;
  return (
    <nav class="row pager" aria-label={t("pager.label")}>
      <Button disabled={offset === 0} onClick={() => onOffset(Math.max(0, offset - limit))}>
        {t("pager.newer")}
      </Button>
      <span class="muted" aria-live="polite">
        {t("pager.position", { from: total ? offset + 1 : 0, to: Math.min(total, offset + limit), total })}
      </span>
      <Button disabled={offset + limit >= total} onClick={() => onOffset(offset + limit)}>
        {t("pager.older")}
      </Button>
    </nav>
  );
}
