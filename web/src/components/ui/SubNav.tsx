import { Link } from "./Link";

/** Tabs that are addresses: each is a link, so a tab can be bookmarked and opened in a new tab. */
export function SubNav({ label, items, current }: { label: string; items: { href: string; text: string }[]; current: string }) {
  return (
    <nav class="subnav" aria-label={label}>
      {items.map((i) => (
        <Link key={i.href} href={i.href} aria-current={i.href === current ? "page" : undefined}>
          {i.text}
        </Link>
      ))}
    </nav>
  );
}
