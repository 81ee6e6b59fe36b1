/* The hosted survey page's progressive enhancement (GET /s/{token}). The page works without it.
 * When the link chose a value (?a=9, shown preselected), that value is recorded once a person has
 * interacted with the page: a pointer, key, touch or scroll. Never on load alone: mail scanners
 * load pages, some run their scripts, none of them are people answering. The answer is posted as
 * the form would (capture=interaction), and the page then shows what the server answered: the
 * remaining questions, with what the person already typed kept. */
(function () {
  'use strict';
  var d = document, form = d.querySelector('form[data-capture]');
  /* A refused submission: the list of what to fix is read first. */
  var summary = d.getElementById('sd-summary');
  if (summary) summary.focus();
  if (!form || !window.fetch || !window.DOMParser) return;
  var question = form.getAttribute('data-capture'), sent = false;
  var events = ['pointerdown', 'keydown', 'touchstart', 'scroll'];

  function checked() {
    var input = form.querySelector('input[type=radio][name="' + question + '"]:checked');
    return input && input.value;
  }
  function stop() { events.forEach(function (e) { removeEventListener(e, interacted, true); }); }

  /* What the person already filled in, to put back into the page the server returns. */
  function typed() {
    var kept = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (el.name === question || !el.name || el.type === 'hidden') return;
      if ((el.type === 'radio' || el.type === 'checkbox') ? el.checked : el.value) kept[el.id] = el.type === 'radio' || el.type === 'checkbox' ? true : el.value;
    });
    return kept;
  }
  function show(html) {
    var next = new DOMParser().parseFromString(html, 'text/html').querySelector('main');
    var main = d.querySelector('main');
    if (!next || !main) return;
    var kept = typed(), focused = d.activeElement && d.activeElement.id;
    main.innerHTML = next.innerHTML;
    Object.keys(kept).forEach(function (id) {
      var el = d.getElementById(id);
      if (!el) return;
      if (el.type === 'radio' || el.type === 'checkbox') el.checked = true; else el.value = kept[id];
    });
    /* Where the person was, or else the notice saying their answer was saved. */
    var again = (focused && d.getElementById(focused)) || d.getElementById('sd-notice');
    if (again) again.focus();
  }

  function interacted(e) {
    if (sent) return;
    /* Sending the form records the value itself (capture=submit): no second request racing it. */
    var t = e && e.target;
    if ((t && t.closest && t.closest('button[type=submit]')) || (e && e.type === 'keydown' && e.key === 'Enter')) return;
    sent = true;
    stop();
    /* After this event's own effect (a click on another score changes the choice first). */
    setTimeout(function () {
      var value = checked();
      if (value == null) return;
      var body = new URLSearchParams();
      body.append('form_key', form.elements.form_key.value);
      body.append('capture', 'interaction');
      body.append(question, value);
      fetch(form.action, { method: 'POST', body: body, credentials: 'same-origin', cache: 'no-store' })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) { if (html) show(html); })
        .catch(function () { sent = false; listen(); }); /* offline: the next interaction tries again */
    }, 0);
  }
  function listen() { events.forEach(function (e) { addEventListener(e, interacted, { capture: true, passive: true }); }); }
  listen();
  form.addEventListener('submit', function () { sent = true; stop(); });
})();
