// Drives the gateway's /dashboard in Debian's chromium while the caller
// (tests/integration/test_dashboard_browser.py) runs load through the gateway to its nodes,
// and checks: gateway mode (a row per node, the node-only parts hidden), no console errors
// or failed page requests, requests/s moving, and the node KILL_ADDR (pid KILL_PID) killed
// with SIGKILL shows as not ready with its breaker open. Ends with "PASS ..." or "FAIL ...";
// every wait is bounded.
//   node gateway_dashboard.mjs URL NODE_ADDR,NODE_ADDR... KILL_ADDR KILL_PID [CHROMIUM]
import { fail, inkedPixels, waitUntil, withPage } from "./harness.mjs";

const [url, addrList, killAddr, killPid, chromium = "/usr/bin/chromium"] = process.argv.slice(2);
const addrs = addrList.split(",");

async function main() {
  await withPage(chromium, url + "/dashboard", async (page, problems) => {
    await waitUntil(page, "a row per node, each ready", (as) => as.every((a) => {
      const tr = document.querySelector(`#nodes tr[data-node="${a}"]`);
      return tr && tr.dataset.state === "ready" && tr.dataset.breaker === "closed";
    }), addrs, 20000);
    const layout = await page.evaluate(() => ({
      mode: window.inferdDashboard.mode,
      nodesShown: !document.querySelector("#nodes").closest("section").hidden,
      modelsHidden: document.querySelector("#models").closest("section").hidden,
      queueHidden: document.getElementById("chart-queue").closest("figure").hidden,
      title: document.getElementById("title").textContent,
    }));
    if (!(layout.mode === "gateway" && layout.nodesShown && layout.modelsHidden &&
          layout.queueHidden && layout.title === "inferd gateway"))
      throw new Error("not in gateway mode: " + JSON.stringify(layout));

    // requests/s moves for every node while load runs
    await waitUntil(page, "requests/s points for every node", (as) => as.every((a) => {
      const s = window.inferdDashboard.charts.throughput.series[a];
      return s && s.points.filter((p) => p[1] > 0).length >= 2;
    }), addrs, 30000);
    if ((await inkedPixels(page, "chart-throughput")) < 100)
      throw new Error("the requests/s chart is blank");

    process.kill(Number(killPid), "SIGKILL");
    const sel = `#nodes tr[data-node="${killAddr}"]`;
    await waitUntil(page, "the killed node to show not ready, breaker open", (s) => {
      const tr = document.querySelector(s);
      return tr && tr.dataset.state === "not ready" && tr.dataset.breaker === "open" &&
             tr.querySelector("td.breaker-open") !== null;
    }, sel, 20000);
    const others = await page.evaluate((k) => [...document.querySelectorAll("#nodes tr[data-node]")]
      .filter((tr) => tr.dataset.node !== k).map((tr) => tr.dataset.state), killAddr);
    if (!others.every((s) => s === "ready")) throw new Error("other nodes: " + others);

    if (problems.length) throw new Error(problems.join("; "));
    console.log("PASS polls=" + (await page.evaluate(() => window.inferdDashboard.polls)));
  });
}

main().catch((e) => fail(e.message));
