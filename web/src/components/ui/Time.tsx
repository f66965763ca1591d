import { localTime, parseTime, utcTime } from "../../utils/format";

/** A time in the viewer's zone, with the UTC value on hover; "—" for never. */
export function Time({ value }: { value: string | null | undefined }) {
  const date = parseTime(value);
  if (!date) return <span>—</span>;
  return (
    <time dateTime={date.toISOString()} title={utcTime(date)}>
      {localTime(date)}
    </time>
  );
}
