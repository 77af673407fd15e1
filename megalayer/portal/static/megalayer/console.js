// The browser console (issue 18): noVNC (MPL-2.0, vendored unchanged in ./novnc) on the console proxy's
// websocket. The URL carries a single-use ticket; the proxy also checks that this browser's session is the
// person the ticket was issued to.
import RFB from "./novnc/core/rfb.js";

const screen = document.getElementById("console-screen");
const status = document.getElementById("console-status");
const cad = document.getElementById("ctrl-alt-del");

function show(state, text) {
  status.dataset.state = state;
  status.textContent = text;
  status.className = "pill " + (state === "connected" ? "active" : state === "connecting" ? "" : "failed");
}

const rfb = new RFB(screen, screen.dataset.url, { wsProtocols: ["binary"] });
rfb.scaleViewport = true;
rfb.background = "#10161d";
rfb.addEventListener("connect", () => {
  show("connected", "Connected");
  cad.disabled = false;
});
rfb.addEventListener("disconnect", (event) => {
  cad.disabled = true;
  show(
    "disconnected",
    event.detail.clean ? "Disconnected" : "The console could not be opened or was closed: open it again from the server page.",
  );
});
rfb.addEventListener("desktopname", (event) => {
  document.title = `${event.detail.name} · console`;
});
cad.addEventListener("click", () => rfb.sendCtrlAltDel());
