import { importFile } from "./convert/import.ts";
import { countParams, planResNet } from "./zoo/plan.ts";
for (const f of Deno.args) {
  try {
    const r = await importFile(f);
    console.log(f, r.format, r.spec.name, JSON.stringify({...r.spec, naming: r.spec.naming.id}), countParams(planResNet(r.spec)).trainable);
  } catch (e) { console.log(f, "ERROR", e.message); }
}
