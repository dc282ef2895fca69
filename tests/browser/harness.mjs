// Shared by the dashboard browser tests: launches Debian's chromium (headless, puppeteer-core)
// on a page that records every console error, page error, failed request and HTTP error,
// bounded waits on the page, and the PASS/FAIL ending the Python side reads.
import puppeteer from "puppeteer-core";

export function fail(msg) {
  console.log("FAIL " + msg);
  process.exitCode = 1;
}

export async function waitUntil(page, what, fn, arg, timeoutMs) {
  try {
    return await page.waitForFunction(fn, { timeout: timeoutMs, polling: 100 }, arg);
  } catch (e) {
    throw new Error("timed out waiting for " + what + " (" + e.message.split("\n")[0] + ")");
  }
}

// Runs body(page, problems) on url in a fresh browser, which is closed after.
export async function withPage(chromium, url, body) {
  const browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    args: ["--no-sandbox", "--headless", "--disable-gpu", "--no-first-run",
           "--disable-dev-shm-usage"],
  });
  try {
    const problems = [];
    const page = await browser.newPage();
    page.on("console", (m) => { if (m.type() === "error") problems.push("console: " + m.text()); });
    page.on("pageerror", (e) => problems.push("page error: " + e.message));
    page.on("requestfailed", (r) => problems.push("request failed: " + r.url()));
    page.on("response", (r) => { if (r.status() >= 400) problems.push(r.status() + " " + r.url()); });
    await page.goto(url, { waitUntil: "load", timeout: 20000 });
    return await body(page, problems);
  } finally {
    await browser.close();
  }
}

// The number of painted pixels of a canvas (a blank chart has none).
export async function inkedPixels(page, id) {
  return page.evaluate((i) => {
    const c = document.getElementById(i);
    const px = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let k = 3; k < px.length; k += 4) if (px[k] > 0) n++;
    return n;
  }, id);
}
