import { useRef, useState } from "preact/hooks";
import { AgentConfig, downloadFile, uploadFile } from "../../api/ops";
import type { Server } from "../../api/types";
import { Button } from "../../components/ui/Button";
import { Field } from "../../components/ui/Field";
import { Empty, Loading, Notice } from "../../components/ui/Notice";
import { Progress } from "../../components/ui/Progress";
import { useAction } from "../../hooks/useAction";
import { t } from "../../i18n";
import { joinPath, parentPath } from "../../utils/filemsg";
import { useFileSocket } from "./hooks/useFileSocket";
import { ServerGate } from "./ServerGate";

interface Transfer {
  label: string;
  done: number;
  total: number;
}

function save(blob: Blob, name: string): void {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = name;
  link.click();
  window.setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

/** One server's files within the directories its agent serves: browse, upload, download. */
function Browser({ server, config }: { server: Server; config: AgentConfig }) {
  const roots = config.files_roots.length ? config.files_roots : ["~"];
  const files = useFileSocket(server.id, roots[0]);
  const picker = useRef<HTMLInputElement>(null);
  const [chosen, setChosen] = useState<File | null>(null);
  const [transfer, setTransfer] = useState<Transfer | null>(null);
  const upload = useAction(async () => {
    if (!chosen) return;
    const label = t("ops.uploading", { name: chosen.name });
    setTransfer({ label, done: 0, total: chosen.size });
    await uploadFile(server.id, joinPath(files.path, chosen.name), chosen, (done, total) => setTransfer({ label, done, total }));
    setTransfer({ label: t("ops.uploaded", { name: chosen.name }), done: chosen.size, total: chosen.size });
    setChosen(null);
    if (picker.current) picker.current.value = "";
    files.list(files.path);
  });
  const download = useAction(async (name: string) => {
    const label = t("ops.downloading", { name });
    setTransfer({ label, done: 0, total: 0 });
    const blob = await downloadFile(server.id, joinPath(files.path, name), (done, total) => setTransfer({ label, done, total }));
    setTransfer({ label: t("ops.downloaded", { name }), done: blob.size, total: blob.size });
    save(blob, name);
  });
  const atRoot = roots.includes(files.path);
  return (
    <section class="card stack" aria-labelledby="files-title">
      <div class="page-head">
        <h2 id="files-title">{t("ops.files_on", { name: server.name })}</h2>
        {roots.length > 1 && (
          <div class="row">
            {roots.map((r) => (
              <Button key={r} onClick={() => files.list(r)}>
                {r}
              </Button>
            ))}
          </div>
        )}
      </div>
      <p class="path">
        <span class="muted">{t("ops.path")}:</span> <code>{files.path}</code>
      </p>
      <form class="row upload-row" onSubmit={(e) => (e.preventDefault(), void upload.run())}>
        <Field label={t("ops.upload_file")} hint={t("ops.upload_hint")}>
          {(id, hint) => <input id={id} ref={picker} type="file" aria-describedby={hint} onChange={(e) => setChosen(e.currentTarget.files?.[0] ?? null)} />}
        </Field>
        <Button type="submit" kind="primary" busy={upload.running} disabled={!chosen}>
          {t("ops.upload")}
        </Button>
      </form>
      {transfer && <Progress label={transfer.label} done={transfer.done} total={transfer.total} />}
      <Notice>{files.error || upload.error || download.error}</Notice>
      {files.loading && !files.entries ? (
        <Loading label={t("common.loading")} />
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t("ops.name")}</th>
                <th scope="col">
                  <span class="sr-only">{t("common.actions")}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {!atRoot && (
                <tr>
                  <td colSpan={2}>
                    <button type="button" class="link" onClick={() => files.list(parentPath(files.path))}>
                      ↑ {t("ops.parent")}
                    </button>
                  </td>
                </tr>
              )}
              {(files.entries ?? []).map((e) => (
                <tr key={e.name}>
                  <td>
                    {e.dir ? (
                      <button type="button" class="link" onClick={() => files.list(joinPath(files.path, e.name))}>
                        {e.name}/
                      </button>
                    ) : (
                      <span>{e.name}</span>
                    )}
                  </td>
                  <td>
<div class="actions">
                    {!e.dir && (
                      <Button busy={download.running} onClick={() => void download.run(e.name)} aria-label={t("ops.download_name", { name: e.name })}>
                        {t("ops.download")}
                      </Button>
                    )}
                  </div>
</td>
                </tr>
              ))}
            </tbody>
          </table>
          {files.entries && !files.entries.length && <Empty title={t("ops.empty_dir")}>{t("ops.empty_dir_hint")}</Empty>}
        </div>
      )}
    </section>
  );
}

export function FilesTab() {
  return <ServerGate capability="files">{(server, config) => <Browser key={server.id} server={server} config={config} />}</ServerGate>;
}
