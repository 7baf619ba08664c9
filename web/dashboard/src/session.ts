import { createContext, useContext } from "react";
import type { Session } from "./wire";

// The logged-in operator, for pages that show or hide controls by role. Viewers only read:
// the server refuses their submit, cancel and requeue (403); the UI does not offer them.

export const SessionContext = createContext<Session | null>(null);

export function useSession(): { session: Session; canOperate: boolean } {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside a logged-in page");
  return { session, canOperate: session.operator.role === "operator" };
}
