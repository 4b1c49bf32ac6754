// Keeps a job's progress up to date on its page (and on a transfer's page while it is being checked or stored):
// polls /api/v1/jobs/ID, updates the progress bar and its words, and reloads the page once the job has finished
// so its result or error shows. Without JavaScript the page has a Refresh link instead.
const POLL_MS = 1500;

function describe(job) {
  if (!job.step) return job.state === "queued" ? "Waiting to start" : job.state;
  if (job.total) return `${job.step}: ${job.done} of ${job.total}`;
  return job.done ? `${job.step}: ${job.done}` : job.step;
}

function watch(box) {
  const id = box.dataset.jobPoll;
  const bar = box.querySelector("[data-job-bar]");
  const step = box.querySelector("[data-job-step]");
  const status = box.querySelector("[data-job-status]");
  let lastWords = "";
  let failures = 0;

  async function poll() {
    try {
      const answer = await fetch(`/api/v1/jobs/${encodeURIComponent(id)}`, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      if (!answer.ok) throw new Error(`status ${answer.status}`);
      const job = await answer.json();
      failures = 0;
      const words = describe(job);
      if (step) step.textContent = words;
      if (bar) {
        if (job.total) {
          bar.max = job.total;
          bar.value = job.done;
        } else {
          bar.removeAttribute("value"); // indeterminate
        }
        bar.textContent = words;
      }
      if (job.finished_state) {
        if (status) status.textContent = `The job has ${job.state}. Showing the outcome…`;
        if (box.hasAttribute("data-reload-when-finished")) window.location.reload();
        return;
      }
      // Announce a new step only: repeating every count would drown a screen reader.
      if (status && job.step && job.step !== lastWords) status.textContent = job.step;
      lastWords = job.step;
    } catch (error) {
      failures += 1;
      if (status && failures === 3) status.textContent = "Progress cannot be fetched just now; still trying.";
    }
    window.setTimeout(poll, Math.min(POLL_MS * (1 + failures), 15000));
  }
  window.setTimeout(poll, POLL_MS);
}

document.querySelectorAll("[data-job-poll]").forEach(watch);
