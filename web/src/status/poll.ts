// The public status page's refresher: the page is complete without it; this replaces its main
// part from `?part=main` every data-refresh seconds (four times as long while the tab is
// hidden), and shows each time in the viewer's zone with the UTC value kept on hover.
function localise(root: ParentNode): void {
  root.querySelectorAll<HTMLTimeElement>("time[datetime]").forEach((el) => {
    const date = new Date(el.dateTime);
    if (Number.isNaN(date.getTime())) return;
    el.title = el.title || el.textContent || "";
    el.textContent = date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  });
}

function start(): void {
  const main = document.getElementById("status-main");
  if (!main) return;
  localise(document);
  const every = Math.max(10, Number(main.dataset.refresh) || 30) * 1000;
  let timer = 0;
  const schedule = () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, document.hidden ? every * 4 : every);
  };
  const refresh = async () => {
    try {
      const address = new URL(location.href);
      address.searchParams.set("part", "main");
      const response = await fetch(address, { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (response.ok) {
        main.innerHTML = await response.text();
        localise(main);
      }
    } catch {
      // offline for a moment: the next round tries again
    }
    schedule();
  };
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) void refresh();
    else schedule();
  });
  schedule();
}

start();
