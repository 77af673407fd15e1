// Live progress of a server's operations: poll while any is pending or running, then reload the page
// so the server's state (power, system, password button) shows the outcome. Works without it too.
(function () {
  "use strict";
  var box = document.getElementById("operations");
  if (!box || box.dataset.open !== "1") return;
  var labels = {pending: "Pending", running: "Running", succeeded: "Succeeded", failed: "Failed", cancelled: "Cancelled"};
  function tick() {
    fetch(box.dataset.poll, {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (r) { return r.json(); })
      .then(function (data) {
        data.operations.forEach(function (op) {
          var cell = box.querySelector('tr[data-operation="' + op.id + '"] [data-status]');
          if (cell) { cell.textContent = labels[op.status] || op.status; cell.className = "pill " + op.status; }
        });
        if (data.open) { setTimeout(tick, 1500); } else { window.location.reload(); }
      })
      .catch(function () { setTimeout(tick, 5000); });
  }
  setTimeout(tick, 1000);
})();
