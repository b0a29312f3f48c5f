"use client";

import { useEffect, useState } from "react";

// Inlined into the client bundle by `next build`: set it with `docker build --build-arg NEXT_PUBLIC_API_URL=...`.
// Setting it at runtime (ECS env, `gcloud run deploy --set-env-vars`) has no effect.
const API_URL = (process.env.NEXT_PUBLIC_API_URL || "").replace(/\/+$/, "");

export default function Home() {
  const [health, setHealth] = useState({ state: "loading" });

  useEffect(() => {
    if (!API_URL) {
      setHealth({ state: "error", detail: "NEXT_PUBLIC_API_URL was not set when this app was built" });
      return;
    }
    fetch(`${API_URL}/health`, { cache: "no-store" })
      .then(async (response) => {
        const body = await response.json().catch(() => ({}));
        setHealth({ state: response.ok ? "ok" : "error", status: response.status, body });
      })
      .catch((error) => setHealth({ state: "error", detail: String(error) }));
  }, []);

  return (
    <main>
      <h1>PMIS</h1>
      <p>
        API: <code>{API_URL || "(not configured)"}</code>
      </p>
      <h2>API health</h2>
      {health.state === "loading" && <p>checking…</p>}
      {health.state === "ok" && (
        <p data-testid="health">
          healthy — database {health.body.database}, migration {health.body.migration_version}
        </p>
      )}
      {health.state === "error" && (
        <p data-testid="health" style={{ color: "crimson" }}>
          unhealthy{health.status ? ` (HTTP ${health.status})` : ""}: {health.body?.reason || health.detail}
        </p>
      )}
    </main>
  );
}
