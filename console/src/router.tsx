// One page per address under /console, moved between without reloading.
import { type MouseEvent, type ReactNode, createContext, useContext, useEffect, useState } from "react";

const Navigate = createContext<(path: string) => void>(() => {});

export function usePath(): [string, (path: string) => void] {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const back = () => {
      delete document.body.dataset.ready;
      setPath(location.pathname);
    };
    window.addEventListener("popstate", back);
    return () => window.removeEventListener("popstate", back);
  }, []);
  const go = (to: string) => {
    delete document.body.dataset.ready;
    history.pushState({}, "", to);
    setPath(to);
  };
  return [path, go];
}

export const NavigateProvider = Navigate.Provider;

export function useNavigate(): (path: string) => void {
  return useContext(Navigate);
}

export function Link({ to, className, children }: { to: string; className?: string; children: ReactNode }) {
  const go = useNavigate();
  const click = (event: MouseEvent) => {
    if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    go(to);
  };
  return (
    <a href={to} className={className} onClick={click}>
      {children}
    </a>
  );
}

/** The address's parts after /console, decoded: "/console/users/U1" gives ["users", "U1"]. */
export function partsOf(path: string): string[] {
  return path.replace(/\/+$/, "").split("/").slice(2).map(decodeURIComponent);
}
