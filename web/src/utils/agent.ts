// The command that starts an agent for a server created in the UI.

/** The address agents reach: the site's install_host setting when set, else this page's origin. */
export function serverAddress(installHost: string, origin: string): string {
  const host = installHost.trim();
  if (!host) return origin;
  return /^https?:\/\//.test(host) ? host.replace(/\/+$/, "") : `http://${host}`;
}

/** A shell-safe single-quoted word. */
export function shellWord(value: string): string {
  return /^[A-Za-z0-9_./:@=-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

export function agentCommand(address: string, secret: string): string {
  return `pip install heron && heron agent --server ${shellWord(address)} --secret ${shellWord(secret)}`;
}

export function agentServiceCommand(address: string, secret: string): string {
  return `sudo heron agent install --server ${shellWord(address)} --secret ${shellWord(secret)} && sudo systemctl enable --now heron-agent`;
}
