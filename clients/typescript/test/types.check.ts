// Compile-time checks (`tsc -p tsconfig.test.json`, part of `npm test`): params are typed from openapi.json.
import { GenPulse, type Params, type Task } from "../src/index.js";

const gp = new GenPulse({ baseUrl: "http://127.0.0.1:8000" });

export async function typed(): Promise<Task[]> {
  const fox: Params<"diffusers", "text-to-image"> = { prompt: "a red fox", width: 64, height: 64 };
  return [
    await gp.submit("diffusers", "text-to-image", fox),
    await gp.submit("kling", "text-to-video", { prompt: "a fox", duration: 5 }, { priority: "high" }),
    // @ts-expect-error width is a number
    await gp.submit("diffusers", "text-to-image", { prompt: "x", width: "64" }),
    // @ts-expect-error the prompt is required
    await gp.submit("diffusers", "text-to-image", { width: 64 }),
    // @ts-expect-error openai has no text-to-video
    await gp.submit("openai", "text-to-video", { prompt: "x" }),
    // @ts-expect-error unknown provider
    await gp.submit("nobody", "text-to-image", { prompt: "x" }),
  ];
}
