// Drives the node's /dashboard in Debian's chromium (headless, puppeteer-core) while the
// caller (tests/integration/test_dashboard_browser.py) runs load against MODEL, and checks:
// no console errors or failed page requests, the charts' data moves, and a worker killed with
// SIGKILL shows as restarting and then live again. Ends with one line "PASS ..." (exit 0) or
// "FAIL reason" (exit 1). Every wait is bounded.
//   node dashboard.mjs URL MODEL [CHROMIUM]
import { fail, inkedPixels, waitUntil, withPage } from "./harness.mjs";

const [url, model, chromium = "/usr/bin/chromium"] = process.argv.slice(2);

async function main() {
  await withPage(chromium, url + "/dashboard", async (page, problems) => {
    // Charts move: throughput points of MODEL above zero, several of them, while load runs.
    await waitUntil(page, "throughput points", (m) => {
      const s = window.inferdDashboard && window.inferdDashboard.charts.throughput.series[m];
      return s && s.points.filter((p) => p[1] > 0).length >= 3;
    }, model, 30000);
    const mode = await page.evaluate(() => [window.inferdDashboard.mode,
      document.querySelector("#nodes").closest("section").hidden]);
    if (mode[0] !== "node" || !mode[1]) throw new Error("not in node mode: " + mode);
    const moved = await page.evaluate((m) => {
      const d = window.inferdDashboard.charts;
      const vals = (c, n) => (d[c].series[n] ? d[c].series[n].points.map((p) => p[1]) : []);
      return { throughput: vals("throughput", m), p99: vals("latency", m + " p99"),
               batch: vals("batch", m), polls: window.inferdDashboard.polls };
    }, model);
    if (!(moved.p99.some((v) => v > 0) && moved.batch.some((v) => v > 0)))
      throw new Error("latency or batch charts stayed at zero: " + JSON.stringify(moved));
    // the canvas shows something: not every pixel is blank
    const inked = await inkedPixels(page, "chart-throughput");
    if (inked < 100) throw new Error("the throughput chart is blank");

    // A worker killed with SIGKILL: its row shows restarting, then live with a new pid.
    const row = await page.$eval(`#workers tr[data-model="${model}"][data-state="live"]`,
                                 (tr) => ({ row: tr.dataset.row, pid: Number(tr.dataset.pid) }));
    process.kill(row.pid, "SIGKILL");
    const sel = `#workers tr[data-model="${model}"][data-row="${row.row}"]`;
    await waitUntil(page, "the row to show restarting", (s) => {
      const tr = document.querySelector(s);
      return tr && tr.dataset.state === "restarting" &&
             tr.querySelector("td.state-restarting") !== null;
    }, sel, 15000);
    await waitUntil(page, "the row to be live again", ([s, old]) => {
      const tr = document.querySelector(s);
      return tr && tr.dataset.state === "live" && Number(tr.dataset.pid) !== old;
    }, [sel, row.pid], 30000);
    const restarts = await page.$eval(sel, (tr) => tr.children[4].textContent);
    if (restarts !== "1") throw new Error("restarts shows " + restarts + ", expected 1");

    if (problems.length) throw new Error(problems.join("; "));
    console.log("PASS polls=" + (await page.evaluate(() => window.inferdDashboard.polls)) +
                " throughput=" + JSON.stringify(moved.throughput.slice(-3)));
  });
}

main().catch((e) => fail(e.message));
