// Drives matrix-js-sdk inside headless Chromium (see browser_page.js).
//
//   node browser_session.mjs bundle ENTRY OUTFILE   bundle ENTRY with matrix-js-sdk (esbuild)
//   node browser_session.mjs run PAGE_URL CHROMIUM  open PAGE_URL in CHROMIUM, print the
//                                                   page's console, "BROWSER OK" on success
//
// Every step has its own time limit, so a hang fails saying which step hung.

const [mode, ...args] = process.argv.slice(2);

function within(ms, what, promise) {
    let timer;
    const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000} s`)), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function bundle(entry, outfile) {
    const esbuild = await import("esbuild");
    await within(120000, "bundling matrix-js-sdk with esbuild", esbuild.build({
        entryPoints: [entry],
        bundle: true,
        format: "esm",
        platform: "browser",
        target: "chrome110",
        outfile,
        logLevel: "warning",
    }));
    console.log("BUNDLED " + outfile);
}

async function run(pageUrl, chromium) {
    const { default: puppeteer } = await import("puppeteer-core");
    const browser = await within(60000, `starting ${chromium}`, puppeteer.launch({
        executablePath: chromium,
        headless: true,
        // As root (CI) Chromium refuses to start with its sandbox; /dev/shm may be small.
        args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
    }));
    try {
        const page = await browser.newPage();
        page.on("console", (m) => console.log("page: " + m.text()));
        page.on("pageerror", (e) => console.log("page error: " + e.message));
        page.on("requestfailed", (r) =>
            console.log(`request failed: ${r.method()} ${r.url()} ${r.failure() && r.failure().errorText}`));
        await within(30000, `loading ${pageUrl}`, page.goto(pageUrl));
        await within(180000, "the page's session", page.waitForFunction(
            "window.__result !== undefined", { timeout: 0, polling: 100 }));
        const result = await page.evaluate(() => window.__result);
        if (!result.ok) throw new Error("the page's session failed: " + result.error);
        console.log("BROWSER OK");
    } finally {
        await within(20000, "closing Chromium", browser.close());
    }
}

if (mode === "bundle") await bundle(args[0], args[1]);
else if (mode === "run") await run(args[0], args[1]);
else throw new Error("usage: browser_session.mjs bundle ENTRY OUTFILE | run PAGE_URL CHROMIUM");
