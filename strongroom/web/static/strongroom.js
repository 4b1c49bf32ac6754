// Strongroom's page script: GOV.UK Frontend's components (tabs, the service navigation's menu button,
// error summaries, character counts...). A module, so only browsers GOV.UK Frontend supports run it; every
// page works without it. It sets the body classes GOV.UK's template sets inline, which the
// Content-Security-Policy (script-src 'self') does not allow.
import { initAll } from "./govuk-frontend.min.js";

document.body.classList.add("js-enabled", "govuk-frontend-supported");

// A module script may run before the stylesheet has arrived; the service navigation reads its breakpoint from
// a CSS custom property, so the components start once the page, stylesheet included, has loaded.
if (document.readyState === "complete") {
  initAll();
} else {
  window.addEventListener("load", () => initAll(), { once: true });
}
