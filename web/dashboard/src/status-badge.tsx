import type { TaskStatus } from "./wire";

export function StatusBadge(props: { status: TaskStatus }): React.JSX.Element {
  return (
    <span className={`badge badge-${props.status.toLowerCase()}`} data-status={props.status}>
      {props.status}
    </span>
  );
}

/** A failed load or action, announced to screen readers. */
export function Problem(props: { message: string | undefined }): React.JSX.Element | null {
  if (!props.message) return null;
  return (
    <p className="problem" role="alert">
      {props.message}
    </p>
  );
}
