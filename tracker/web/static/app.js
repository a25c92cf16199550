// tracker's web page: live title search on the collection, live progress on the commands page.
// No framework and no build step; without JavaScript the search form and a reload still work.
"use strict";

// Replace an element by the element of the same id in a freshly fetched copy of a page.
async function swapFrom(url, id) {
  const response = await fetch(url, { headers: { Accept: "text/html" } });
  if (!response.ok) return false;
  const fresh = new DOMParser().parseFromString(await response.text(), "text/html").getElementById(id);
  const current = document.getElementById(id);
  if (!fresh || !current) return false;
  current.replaceWith(fresh);
  return true;
}

function liveSearch() {
  const input = document.getElementById("search");
  if (!input) return;
  let timer = null;
  let asked = input.value;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const search = input.value.trim();
      if (search === asked) return;
      asked = search;
      const url = search ? "/?search=" + encodeURIComponent(search) : "/";
      if (await swapFrom(url, "results") && asked === search) history.replaceState(null, "", url);
    }, 200);
  });
}

const number = (n) => (n ?? 0).toLocaleString("en");

// Update one command's row in place from its /api/commands entry.
function updateRow(row, c) {
  const field = (name) => row.querySelector(`[data-field="${name}"]`);
  row.className = "command " + c.status;
  field("status").textContent = c.status;
  field("status").className = "pill " + c.status;
  field("progress").textContent = number(c.processed) + (c.total ? " / " + number(c.total) : "");
  for (const name of ["updated", "skipped", "failed"]) field(name).textContent = number(c[name]);
  const bar = field("bar");
  bar.max = c.total || 1;
  bar.value = c.total ? c.processed : (c.finished_at ? 1 : 0);
}

function liveCommands() {
  const section = document.getElementById("commands");
  if (!section) return;
  const poll = async () => {
    try {
      const response = await fetch(section.dataset.poll, { headers: { Accept: "application/json" } });
      if (!response.ok) return;
      const data = await response.json();
      const rows = new Map([...document.querySelectorAll("#commands [data-id]")].map((r) => [r.dataset.id, r]));
      const same = data.commands.length === rows.size && data.commands.every((c) => rows.has(c.command_id));
      if (!same) {
        await swapFrom("/commands", "commands");  // a command came or went: take the page's list
        await swapFrom("/commands", "queue");
        return;
      }
      for (const c of data.commands) updateRow(rows.get(c.command_id), c);
      document.getElementById("queue").textContent =
        `${data.running} running · ${data.queue_depth} queued` +
        (data.last_command_end ? " · last ended " + data.last_command_end.slice(0, 16).replace("T", " ") + " UTC" : "");
    } catch (err) {
      // the daemon may be restarting: try again at the next tick
    }
  };
  setInterval(poll, 1000);
}

document.addEventListener("DOMContentLoaded", () => {
  liveSearch();
  liveCommands();
});
