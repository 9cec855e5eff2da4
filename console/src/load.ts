import { type DependencyList, useEffect, useState } from "react";

export type Loaded<T> = { state: "loading" } | { state: "done"; value: T } | { state: "failed"; error: unknown };

/** Runs `load` when `deps` change (and when `again` is called); a late answer to an older call is dropped. */
export function useLoad<T>(load: () => Promise<T>, deps: DependencyList): [Loaded<T>, () => void] {
  const [loaded, setLoaded] = useState<Loaded<T>>({ state: "loading" });
  const [round, setRound] = useState(0);
  useEffect(() => {
    let current = true;
    setLoaded({ state: "loading" });
    load().then(
      (value) => current && setLoaded({ state: "done", value }),
      (error: unknown) => current && setLoaded({ state: "failed", error }),
    );
    return () => {
      current = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, round]);
  return [loaded, () => setRound((r) => r + 1)];
}

/** Marks the page as shown (body[data-ready] = its address) once `done` holds: what the browser tests wait for. */
export function useReady(done: boolean): void {
  useEffect(() => {
    if (done) document.body.dataset.ready = location.pathname;
  }, [done]);
}

/** A page with nothing to load: shown as soon as it renders. */
export function Ready(): null {
  useReady(true);
  return null;
}
