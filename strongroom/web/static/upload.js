// The chunked, resumable uploader of the Ingest page. Without JavaScript the same form posts the whole file.
// With it: POST /api/v1/uploads, then PUT each chunk with Content-Range; after a network error, or after a
// reload (the upload's id is kept in localStorage by file name, size and date), it asks the server how much
// arrived (GET) and carries on from there. When every byte is in, POST .../complete queues the check and the
// page moves to the transfer's page. Status goes to an aria-live region; the <progress> element has words too.
const form = document.getElementById("upload-form");

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute("content") : "";
}

function sizeWords(bytes) {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} bytes` : `${value.toFixed(1)} ${units[unit]}`;
}

function sleep(ms) {
  return new Promise((resolve) => window.setTimeout(resolve, ms));
}

class UploadFailed extends Error {}

async function api(method, url, { body, headers = {} } = {}) {
  const answer = await fetch(url, {
    method,
    body,
    credentials: "same-origin",
    headers: { Accept: "application/json", "X-CSRF-Token": csrfToken(), ...headers },
  });
  let data = null;
  try {
    data = await answer.json();
  } catch (error) {
    data = null;
  }
  return { status: answer.status, ok: answer.ok, data };
}

function refusal(result) {
  const data = result.data || {};
  const hints = Array.isArray(data.hint) ? ` ${data.hint.join(" ")}` : "";
  return new UploadFailed(`${data.error || `The server answered ${result.status}.`}${hints}`);
}

function storageKey(file) {
  return `strongroom-upload:${file.name}:${file.size}:${file.lastModified}`;
}

function setUp() {
  if (!form || !window.fetch) return;
  const input = form.querySelector('input[type="file"]');
  const button = document.getElementById("upload-button");
  const box = document.getElementById("upload-progress");
  const bar = document.getElementById("upload-bar");
  const status = document.getElementById("upload-status");
  const limit = Number(form.dataset.limit || "0");

  function say(words) {
    status.textContent = words;
  }

  function show(received, size) {
    box.hidden = false;
    bar.max = size;
    bar.value = received;
    const percent = size ? Math.floor((received / size) * 100) : 0;
    bar.textContent = `${percent}%`;
  }

  async function start(file) {
    const key = storageKey(file);
    const known = window.localStorage.getItem(key);
    if (known) {
      const found = await api("GET", `/api/v1/uploads/${encodeURIComponent(known)}`);
      if (found.ok) return found.data;
      window.localStorage.removeItem(key);
    }
    const made = await api("POST", "/api/v1/uploads", {
      body: JSON.stringify({ filename: file.name, size: file.size }),
      headers: { "Content-Type": "application/json" },
    });
    if (!made.ok) throw refusal(made);
    window.localStorage.setItem(key, made.data.id);
    return made.data;
  }

  async function send(file, upload) {
    let received = upload.received;
    const chunkSize = upload.chunk_size;
    let failures = 0;
    while (received < file.size) {
      const end = Math.min(received + chunkSize, file.size);
      show(received, file.size);
      say(`Uploading ${file.name}: ${sizeWords(received)} of ${sizeWords(file.size)}.`);
      let result;
      try {
        result = await api("PUT", `/api/v1/uploads/${encodeURIComponent(upload.id)}`, {
          body: file.slice(received, end),
          headers: {
            "Content-Type": "application/octet-stream",
            "Content-Range": `bytes ${received}-${end - 1}/${file.size}`,
          },
        });
      } catch (error) {
        // The network went away: wait, ask the server how much it has, and carry on from there.
        failures += 1;
        if (failures > 8) throw new UploadFailed("The connection keeps failing. Choose the file again later to carry on.");
        say(`The connection was lost. Trying again (attempt ${failures} of 8)…`);
        await sleep(Math.min(1000 * 2 ** failures, 30000));
        const asked = await api("GET", `/api/v1/uploads/${encodeURIComponent(upload.id)}`).catch(() => null);
        if (asked && asked.ok) received = asked.data.received;
        continue;
      }
      if (result.status === 409 && result.data && Number.isInteger(result.data.received)) {
        received = result.data.received; // the server has a different amount: resume from there
        continue;
      }
      if (!result.ok) throw refusal(result);
      failures = 0;
      received = result.data.received;
    }
    show(file.size, file.size);
  }

  form.addEventListener("submit", async (event) => {
    const file = input.files && input.files[0];
    if (!file) return; // the server says what is missing
    event.preventDefault();
    if (limit && file.size > limit) {
      say(`${file.name} is ${sizeWords(file.size)}; uploads may be at most ${sizeWords(limit)}.`);
      return;
    }
    button.disabled = true;
    try {
      const upload = await start(file);
      if (upload.received > 0) say(`Carrying on from ${sizeWords(upload.received)}.`);
      await send(file, upload);
      say("All of the file has arrived. Queuing its check…");
      const done = await api("POST", `/api/v1/uploads/${encodeURIComponent(upload.id)}/complete`);
      if (!done.ok) throw refusal(done);
      window.localStorage.removeItem(storageKey(file));
      say("Uploaded. Opening the transfer's page…");
      window.location.assign(`/ingest/transfers/${encodeURIComponent(done.data.id)}`);
    } catch (error) {
      say(error instanceof UploadFailed ? error.message : "The upload stopped. Choose the file again to carry on.");
      button.disabled = false;
    }
  });
}

setUp();
