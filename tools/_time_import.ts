import { importFile } from "../convert/import.ts";
for (const f of Deno.args) {
  const t = performance.now();
  const r = await importFile(f);
  console.log(f, r.spec.name, (performance.now() - t).toFixed(0), "ms", r.assumptions);
}
