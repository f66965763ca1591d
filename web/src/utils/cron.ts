// Checks a cron expression as the server does (seconds first, six fields, or @hourly and the
// like) so the form says what is wrong while the user types; the server still has the last word.
export const CRON_FIELDS = ["second", "minute", "hour", "day", "month", "weekday"] as const;
type FieldName = (typeof CRON_FIELDS)[number];

const RANGES: Record<FieldName, [number, number]> = {
  second: [0, 59],
  minute: [0, 59],
  hour: [0, 23],
  day: [1, 31],
  month: [1, 12],
  weekday: [0, 7],
};
const NAMES: Partial<Record<FieldName, string[]>> = {
  month: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
  weekday: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
};
export const CRON_MACROS = ["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"];

export type CronProblem = { field: FieldName | "expression"; message: string };

function value(field: FieldName, text: string): number | null {
  const names = NAMES[field];
  const named = names?.indexOf(text.toLowerCase()) ?? -1;
  if (named >= 0) return field === "month" ? named + 1 : named;
  if (!/^\d+$/.test(text)) return null;
  const n = Number(text);
  const [lo, hi] = RANGES[field];
  return n >= lo && n <= hi ? n : null;
}

function checkPart(field: FieldName, part: string): string | null {
  const [base, step, extra] = part.split("/");
  if (extra !== undefined || step === "" || (step !== undefined && !/^[1-9]\d*$/.test(step))) return `bad step in '${part}'`;
  if (base === "*" || (base === "?" && (field === "day" || field === "weekday"))) return null;
  const [from, to, more] = base.split("-");
  if (more !== undefined) return `bad range '${base}'`;
  const [lo, hi] = RANGES[field];
  const a = value(field, from);
  if (a === null) return `'${from}' is not a ${field} (${lo}-${hi})`;
  if (to === undefined) return null;
  const b = value(field, to);
  if (b === null) return `'${to}' is not a ${field} (${lo}-${hi})`;
  return a > b ? `range '${base}' runs backwards` : null;
}

/** The first problem of `expression`, or null when it is a valid schedule. */
export function cronProblem(expression: string): CronProblem | null {
  const text = expression.trim();
  if (!text) return { field: "expression", message: "a scheduled task needs a schedule" };
  if (text.startsWith("@")) {
    return CRON_MACROS.includes(text.toLowerCase()) ? null : { field: "expression", message: `unknown '${text}' (${CRON_MACROS.join(", ")})` };
  }
  const fields = text.split(/\s+/);
  if (fields.length !== 6) {
    return { field: "expression", message: `expected 6 fields (second minute hour day month weekday), got ${fields.length}` };
  }
  for (let i = 0; i < 6; i++) {
    for (const part of fields[i].split(",")) {
      const problem = checkPart(CRON_FIELDS[i], part);
      if (problem) return { field: CRON_FIELDS[i], message: problem };
    }
  }
  return null;
}
