/* surveyd survey widget: no dependencies, no cookies, no build step.
 * <script src="https://surveys.example.com/widget.js" data-survey="support" data-channel="web" async></script>
 * Optional: data-target="#id", data-customer, data-agent, data-interaction.
 * Theme from the host page: --surveyd-accent, --surveyd-bg, --surveyd-fg, --surveyd-radius, --surveyd-font. */
(function () {
  'use strict';
  var d = document, n = 0;
  var CSS = '.surveyd-widget{font:15px/1.45 var(--surveyd-font,system-ui,-apple-system,"Segoe UI",Roboto,sans-serif);' +
    'color:var(--surveyd-fg,#1f2937);background:var(--surveyd-bg,#fff);border:1px solid rgba(0,0,0,.12);' +
    'border-radius:var(--surveyd-radius,10px);padding:18px 20px;max-width:560px;box-sizing:border-box}' +
    '.surveyd-widget *{box-sizing:border-box}' +
    '.surveyd-widget h2{font-size:1.15em;margin:0 0 12px}' +
    '.surveyd-widget fieldset{border:0;margin:0 0 16px;padding:0;min-width:0}' +
    '.surveyd-widget legend{font-weight:600;padding:0;margin-bottom:8px}' +
    '.surveyd-widget .sd-req{color:#b91c1c;margin-left:3px}' +
    '.surveyd-widget .sd-opts{display:flex;flex-wrap:wrap;gap:6px}' +
    '.surveyd-widget .sd-opt{position:relative;display:inline-flex}' +
    '.surveyd-widget .sd-opt input{position:absolute;opacity:0;width:1px;height:1px;margin:0}' +
    '.surveyd-widget .sd-opt span{display:inline-block;min-width:2.3em;padding:6px 10px;text-align:center;cursor:pointer;' +
    'border:1px solid rgba(0,0,0,.25);border-radius:calc(var(--surveyd-radius,10px)*.6);background:var(--surveyd-bg,#fff)}' +
    '.surveyd-widget .sd-opt span:hover{border-color:var(--surveyd-accent,#2563eb)}' +
    '.surveyd-widget .sd-opt input:checked+span{background:var(--surveyd-accent,#2563eb);border-color:var(--surveyd-accent,#2563eb);color:#fff}' +
    '.surveyd-widget input:focus-visible+span,.surveyd-widget textarea:focus-visible,.surveyd-widget input[type=text]:focus-visible,' +
    '.surveyd-widget button:focus-visible,.surveyd-widget .sd-done:focus{outline:3px solid var(--surveyd-accent,#2563eb);outline-offset:2px}' +
    '.surveyd-widget .sd-nps span{min-width:2.4em;padding:6px 0}' +
    '.surveyd-widget .sd-ends{display:flex;justify-content:space-between;font-size:.85em;opacity:.75;margin-top:4px;max-width:33em}' +
    '.surveyd-widget .sd-emoji span{font-size:1.4em;padding:4px 14px}' +
    '.surveyd-widget textarea,.surveyd-widget input[type=text]{width:100%;font:inherit;color:inherit;background:var(--surveyd-bg,#fff);' +
    'border:1px solid rgba(0,0,0,.25);border-radius:calc(var(--surveyd-radius,10px)*.6);padding:8px}' +
    '.surveyd-widget input[type=text]{margin-top:6px}' +
    '.surveyd-widget button{font:inherit;font-weight:600;color:#fff;background:var(--surveyd-accent,#2563eb);border:0;' +
    'border-radius:calc(var(--surveyd-radius,10px)*.6);padding:8px 22px;cursor:pointer}' +
    '.surveyd-widget button[disabled]{opacity:.6;cursor:progress}' +
    '.surveyd-widget .sd-err{color:#b91c1c;margin:8px 0 0}.surveyd-widget .sd-err:empty{display:none}' +
    '.surveyd-widget .sd-done{font-weight:600;margin:0}.surveyd-widget .sd-done:empty{display:none}' +
    '.surveyd-widget .sd-sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}';

  var PROMPTS = {
    nps: 'How likely are you to recommend us to a friend or colleague?',
    csat: 'How satisfied are you?',
    ces: 'How easy was it to get what you needed?',
    text: 'Anything else you would like to tell us?'
  };
  var ENDS = {
    nps: ['Not likely', 'Very likely'],
    csat: ['Very dissatisfied', 'Very satisfied'],
    ces: ['Very difficult', 'Very easy']
  };

  function el(tag, attrs, kids) {
    var e = d.createElement(tag);
    for (var k in attrs || {}) {
      if (attrs[k] == null) continue;
      if (k === 'text') e.textContent = attrs[k]; else e.setAttribute(k, attrs[k]);
    }
    (kids || []).forEach(function (c) { if (c) e.appendChild(c); });
    return e;
  }
  function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }
  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var a = new Uint8Array(16); crypto.getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return (b + 256).toString(16).slice(1); }).join('');
  }

  /* One HTTP exchange with retries on network failure, 429 and 5xx (0.5, 1, 2, 4 s): the body and the
   * Idempotency-Key stay the same across the retries, so the server stores it once. */
  function call(method, url, body, keepalive) {
    var opts = { method: method, mode: 'cors', credentials: 'omit', cache: 'no-store', headers: {}, keepalive: !!keepalive };
    if (body !== undefined) {
      opts.body = JSON.stringify(body);
      opts.headers['Content-Type'] = 'application/json';
      opts.headers['Idempotency-Key'] = uuid();
    }
    var attempt = 0;
    function go() {
      return fetch(url, opts).then(function (r) {
        if ((r.status >= 500 || r.status === 429) && attempt < 4) throw r;
        return r.json().catch(function () { return null; }).then(function (j) { return { status: r.status, body: j }; });
      }).catch(function (e) {
        if (attempt >= 4) {
          if (e && e.status) return { status: e.status, body: null };
          throw e;
        }
        return sleep(500 * Math.pow(2, attempt++)).then(go);
      });
    }
    return go();
  }

  function init(script) {
    if (script.surveydInit) return;
    script.surveydInit = true;
    var ds = script.dataset, survey = ds.survey;
    var base = (ds.api || new URL(script.src, location.href).origin).replace(/\/$/, '');
    var id = 'sdw' + (++n) + '-';
    var box = el('div', { 'class': 'surveyd-widget', 'data-survey': survey });
    var target = ds.target && d.querySelector(ds.target);
    if (target) target.appendChild(box); else script.parentNode.insertBefore(box, script.nextSibling);
    if (!d.getElementById('surveyd-widget-css')) d.head.appendChild(el('style', { id: 'surveyd-widget-css', text: CSS }));
    var status = el('p', { 'class': 'sd-err', 'aria-live': 'polite', text: 'Loading survey…' });
    box.appendChild(status);

    call('GET', base + '/v1/surveys/' + encodeURIComponent(survey)).then(function (r) {
      if (r.status !== 200 || !r.body || !r.body.questions) throw r;
      box.removeChild(status);
      render(r.body);
    }).catch(function () {
      status.textContent = 'Sorry, this survey could not be loaded.';
    });

    function render(def) {
      var questions = def.questions, values = {}, sent = {}, pending = {}, responseId = null;
      var busy = false, timer = null, failed = false, waiters = [];
      var heading = el('h2', { id: id + 'title', text: def.title || 'Your feedback' });
      var err = el('p', { 'class': 'sd-err', 'aria-live': 'polite' });
      var done = el('p', { 'class': 'sd-done', 'aria-live': 'polite', tabindex: '-1' });
      var button = el('button', { type: 'submit', text: 'Send' });
      var form = el('form', { 'aria-labelledby': id + 'title', novalidate: '' }, [heading]);

      questions.forEach(function (q) { form.appendChild(question(q)); });
      form.appendChild(button);
      form.appendChild(err);
      box.appendChild(form);
      box.appendChild(done);

      function question(q) {
        var lid = id + q.id, name = id + 'q-' + q.id;
        var legend = el('legend', { id: lid, text: q.text || PROMPTS[q.type] || q.id.replace(/[_-]/g, ' ').replace(/^./, function (c) { return c.toUpperCase(); }) });
        if (q.required) legend.appendChild(el('span', { 'class': 'sd-req', 'aria-hidden': 'true', text: '*' }));
        var fs = el('fieldset', { 'data-question': q.id }, [legend]);
        if (q.type === 'text') {
          var ta = el('textarea', { id: lid + '-in', 'aria-labelledby': lid, rows: '3', maxlength: q.max_length || 2000, 'aria-required': q.required ? 'true' : null });
          var t;
          ta.addEventListener('input', function () { clearTimeout(t); t = setTimeout(function () { setText(q, ta.value); }, 1500); });
          ta.addEventListener('blur', function () { clearTimeout(t); setText(q, ta.value); });
          fs.appendChild(ta);
          return fs;
        }
        var opts = [], cls = 'sd-opts';
        if (q.type === 'nps') { for (var i = 0; i <= 10; i++) opts.push([i, String(i)]); cls += ' sd-nps'; }
        else if (q.type === 'csat' && q.scale === 2) { opts = [[1, 'bad', '👎'], [2, 'good', '👍']]; cls += ' sd-emoji'; }
        else if (q.type === 'csat' || q.type === 'ces') { for (var j = 1; j <= (q.scale || (q.type === 'ces' ? 7 : 5)); j++) opts.push([j, String(j)]); }
        else if (q.type === 'yes_no') opts = [[true, 'Yes'], [false, 'No']];
        else if (q.type === 'choice') {
          (q.options || []).forEach(function (o) { opts.push([o, o]); });
          if (q.allow_other) opts.push([{ other: '' }, 'Other']);
        }
        var group = el('div', { 'class': cls, role: 'radiogroup', 'aria-labelledby': lid, 'aria-required': q.required ? 'true' : null });
        var other;
        opts.forEach(function (o, k) {
          var input = el('input', { type: 'radio', name: name, id: name + '-' + k, value: k });
          var label = el('label', { 'class': 'sd-opt', 'for': name + '-' + k }, [input,
            o[2] ? el('span', { title: o[1] }, [el('span', { 'aria-hidden': 'true', text: o[2] }), el('span', { 'class': 'sd-sr', text: o[1] })])
              : el('span', { text: o[1] })]);
          input.addEventListener('change', function () {
            if (!input.checked) return;
            if (o[0] && o[0].other !== undefined) {
              if (other.value.trim()) set(q, { other: other.value.trim() }, 300); else unset(q);
            } else set(q, o[0], 300);
          });
          group.appendChild(label);
        });
        fs.appendChild(group);
        if (ENDS[q.type] && q.scale !== 2) {
          fs.appendChild(el('div', { 'class': 'sd-ends', 'aria-hidden': 'true' }, [el('span', { text: ENDS[q.type][0] }), el('span', { text: ENDS[q.type][1] })]));
          var first = group.querySelector('input'), last = group.querySelectorAll('input');
          first.setAttribute('aria-describedby', lid + '-lo'); last[last.length - 1].setAttribute('aria-describedby', lid + '-hi');
          fs.appendChild(el('span', { id: lid + '-lo', 'class': 'sd-sr', text: ENDS[q.type][0] }));
          fs.appendChild(el('span', { id: lid + '-hi', 'class': 'sd-sr', text: ENDS[q.type][1] }));
        }
        if (q.type === 'choice' && q.allow_other) {
          var radio = group.querySelectorAll('input')[opts.length - 1];
          other = el('input', { type: 'text', 'aria-label': 'Other, please specify', maxlength: '2000', 'class': 'sd-other' });
          var t2;
          var upd = function (delay) {
            clearTimeout(t2);
            t2 = setTimeout(function () {
              var v = other.value.trim();
              if (v) { radio.checked = true; set(q, { other: v }, 0); } else if (radio.checked) unset(q);
            }, delay);
          };
          other.addEventListener('input', function () { upd(1500); });
          other.addEventListener('blur', function () { upd(0); });
          fs.appendChild(other);
        }
        return fs;
      }

      function same(a, b) { return JSON.stringify(a) === JSON.stringify(b); }
      function set(q, v, delay) {
        values[q.id] = v;
        if (same(sent[q.id], v)) delete pending[q.id]; else pending[q.id] = v;
        schedule(delay);
      }
      function unset(q) {
        delete values[q.id];
        if (sent[q.id] !== undefined && !q.required) { pending[q.id] = null; schedule(300); } else delete pending[q.id];
      }
      function setText(q, v) { if (v.trim()) set(q, v, 0); else unset(q); }
      function missing() {
        return questions.filter(function (q) { return q.required && values[q.id] === undefined; });
      }
      function schedule(delay) {
        clearTimeout(timer);
        timer = setTimeout(flush, delay);
      }

      /* Sends what is pending, one request at a time: a POST with every answer given so far once all
       * required questions are answered, then PATCHes with the changes. */
      function flush(keepalive) {
        clearTimeout(timer);
        if (busy) return;
        var keys = Object.keys(pending);
        if (!keys.length || (!responseId && missing().length)) return settle();
        var body, url, method, answers = {};
        if (responseId) {
          keys.forEach(function (k) { answers[k] = pending[k]; });
          body = { answers: answers }; method = 'PATCH'; url = base + '/v1/responses/' + responseId;
        } else {
          for (var k in values) answers[k] = values[k];
          body = { answers: answers }; method = 'POST'; url = base + '/v1/surveys/' + encodeURIComponent(survey) + '/responses';
          ['channel', 'customer', 'agent', 'interaction'].forEach(function (f) { if (ds[f]) body[f] = ds[f]; });
        }
        pending = {};
        busy = true;
        call(method, url, body, keepalive === true).then(function (r) {
          busy = false;
          if (r.status === 200 || r.status === 201) {
            if (method === 'POST') responseId = r.body && r.body.id;
            for (var a in answers) sent[a] = answers[a];
            failed = false;
            err.textContent = '';
          } else {
            failed = true;
            err.textContent = r.status === 409 ? 'It looks like you have already answered this survey. Thank you!'
              : r.status === 403 ? 'Sorry, this survey cannot be answered from this page.'
              : 'Sorry, we could not save your answer. Please check it and try again.';
          }
          flush();
        }, function () {
          busy = false;
          failed = true;
          for (var a in answers) if (pending[a] === undefined && !same(sent[a], answers[a])) pending[a] = answers[a];
          err.textContent = 'Sorry, we could not reach the server. Please try again in a moment.';
          settle();
        });
      }
      function settle() {
        if (busy) return;
        var w = waiters; waiters = [];
        w.forEach(function (f) { f(); });
      }
      function idle() { return new Promise(function (r) { waiters.push(r); flush(); }); }

      form.addEventListener('submit', function (e) {
        e.preventDefault();
        questions.forEach(function (q) {
          var fs = form.querySelector('fieldset[data-question="' + q.id + '"]');
          var ta = q.type === 'text' && fs.querySelector('textarea');
          if (ta) setText(q, ta.value);
          var o = q.type === 'choice' && fs.querySelector('.sd-other');
          if (o && o.value.trim() && fs.querySelectorAll('input[type=radio]')[fs.querySelectorAll('input[type=radio]').length - 1].checked) set(q, { other: o.value.trim() }, 0);
        });
        var miss = missing();
        if (miss.length) {
          err.textContent = 'Please answer the questions marked with an asterisk (*).';
          var f = form.querySelector('fieldset[data-question="' + miss[0].id + '"] input, fieldset[data-question="' + miss[0].id + '"] textarea');
          if (f) f.focus();
          return;
        }
        if (!Object.keys(values).length) { err.textContent = 'Please answer at least one question.'; return; }
        button.disabled = true;
        err.textContent = '';
        idle().then(function () {
          button.disabled = false;
          if (!responseId || failed || Object.keys(pending).length) {
            if (!err.textContent) err.textContent = 'Sorry, we could not save your answers. Please try again.';
            return;
          }
          form.hidden = true;
          done.textContent = 'Thank you for your feedback!';
          done.focus();
        });
      });
      /* A visitor leaving the page: send what is still waiting, with keepalive. */
      addEventListener('pagehide', function () { if (Object.keys(pending).length) flush(true); });
    }
  }

  var cur = d.currentScript;
  if (cur && cur.dataset && cur.dataset.survey) init(cur);
  else Array.prototype.forEach.call(d.querySelectorAll('script[data-survey]'), init);
})();
