import { PRESETS } from "../arch/presets.ts";
import { countParams, planResNet } from "../arch/plan.ts";
for (const [n, s] of Object.entries(PRESETS)) {
  const c = countParams(planResNet(s));
  console.log(n.padEnd(22), c.trainable, c.total);
}
