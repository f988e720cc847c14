// Kanban board: drag a card onto another column to open its transition form, and load a
// column's next cards in place. Without JavaScript each card's Move form and each column's
// "Load more" link (to the filtered list) do the same jobs.
(function () {
  "use strict";
  var board = document.querySelector("[data-testid=board]");
  if (!board) { return; }
  var dragged = null;

  function columnOf(element) {
    return element && element.closest ? element.closest(".board-column") : null;
  }

  board.addEventListener("dragstart", function (event) {
    var card = event.target.closest && event.target.closest(".board-card[draggable=true]");
    if (!card) { return; }
    dragged = card;
    card.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.getAttribute("data-project-id"));
  });

  board.addEventListener("dragend", function () {
    if (dragged) { dragged.classList.remove("dragging"); }
    dragged = null;
    board.querySelectorAll(".drop-target").forEach(function (el) { el.classList.remove("drop-target"); });
  });

  board.addEventListener("dragover", function (event) {
    var column = columnOf(event.target);
    if (!dragged || !column || column === columnOf(dragged)) { return; }
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    board.querySelectorAll(".drop-target").forEach(function (el) {
      if (el !== column) { el.classList.remove("drop-target"); }
    });
    column.classList.add("drop-target");
  });

  board.addEventListener("drop", function (event) {
    var column = columnOf(event.target);
    if (!dragged || !column || column === columnOf(dragged)) { return; }
    event.preventDefault();
    var url = dragged.getAttribute("data-transition-url");
    var stage = column.getAttribute("data-stage");
    window.location.assign(url + "?to=" + encodeURIComponent(stage));
  });

  board.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("[data-testid=load-more][data-url]");
    if (!link) { return; }
    event.preventDefault();
    var holder = link.parentElement;
    link.classList.add("disabled");
    link.setAttribute("aria-busy", "true");
    fetch(link.getAttribute("data-url"), {
      credentials: "same-origin",
      headers: { "Accept": "text/html" }
    }).then(function (response) {
      if (!response.ok) { throw new Error(String(response.status)); }
      return response.text();
    }).then(function (html) {
      var template = document.createElement("template");
      template.innerHTML = html;
      holder.replaceWith(template.content);
    }).catch(function () {
      // Fall back to the list filtered on this stage.
      window.location.assign(link.getAttribute("href"));
    });
  });
})();
