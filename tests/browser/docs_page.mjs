// GET /docs in headless Chromium (Debian's), driven by playwright-core: the page renders
// the three operations from the served document, "Try it out" on /weights shows a 200
// answer, and no request leaves the server. Usage: node docs_page.mjs URL SCREENSHOT.
// Run by tests/http/test_docs.py, which starts ballastd and installs what is missing
// (playwright-core under NPM_PREFIX, the directory whose node_modules holds it).
import { createRequire } from "module";

const require = createRequire((process.env.NPM_PREFIX || process.cwd()) + "/");
const { chromium } = require("playwright-core");

const [base, shot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const result = { requests: [], operations: [], status: null, body: null };
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
  page.on("request", (req) => result.requests.push(req.url()));
  await page.goto(base + "/docs", { waitUntil: "networkidle" });
  await page.waitForSelector(".opblock", { timeout: 20000 });
  result.operations = await page.$$eval(".opblock .opblock-summary-path",
    (els) => els.map((e) => e.getAttribute("data-path") || e.textContent.trim()));
  const weights = page.locator(".opblock-post", { has: page.locator('[data-path="/weights"]') }).first();
  await weights.locator(".opblock-summary").click();
  await weights.locator("button.try-out__btn").click();
  await weights.locator("button.execute").click();
  const status = weights.locator(".live-responses-table .response .response-col_status").first();
  await status.waitFor({ timeout: 20000 });
  result.status = (await status.textContent()).trim();
  result.body = (await weights.locator(".live-responses-table .response-col_description pre").first()
    .textContent()).trim();
  await page.screenshot({ path: shot, fullPage: false });
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
