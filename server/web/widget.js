/* surveyd survey widget: no dependencies, no cookies, no build step.
 * <script src="https://surveys.example.com/widget.js" data-survey="support" data-channel="web" async></script>
 * Optional: data-target="#id", data-customer, data-agent, data-interaction.
 * Theme: --surveyd-accent, --surveyd-bg, --surveyd-fg, --surveyd-border, --surveyd-radius, --surveyd-font. */
(function () {
  'use strict';
  var d = document, n = 0;
  /* ~ the scope; @a @b @l @r the theme's accent, background, border, radius. A selected answer is bold
   * and ringed, Highlight in forced colours: never colour alone. */
  var V = { '~': '.surveyd-widget', '@a': 'var(--surveyd-accent,#2563eb)', '@b': 'var(--surveyd-bg,#fff)',
    '@l': 'var(--surveyd-border,#6b7280)', '@r': 'calc(var(--surveyd-radius,10px)*.6)' };
  var CSS = ('' +
    '~{font:15px/1.45 var(--surveyd-font,system-ui,-apple-system,"Segoe UI",Roboto,sans-serif);color:var(--surveyd-fg,#1f2937);background:@b;border:1px solid @l;border-radius:var(--surveyd-radius,10px);max-width:560px;padding:18px 20px}' +
    '~,~ *{box-sizing:border-box}~ h2{font-size:1.15em;margin:0 0 12px}~ fieldset{border:0;margin:0 0 16px;padding:0;min-width:0}' +
    '~ legend{font-weight:600;padding:0;margin-bottom:8px}~ .sd-req{color:#b91c1c;margin-left:3px}~ .sd-opts{display:flex;flex-wrap:wrap;gap:6px}~ .sd-opt{position:relative;display:inline-flex}' +
    '~ .sd-opt input{position:absolute;opacity:0;width:100%;height:100%;margin:0;cursor:pointer}' +
    '~ .sd-opt>span{display:inline-block;min-width:2.3em;padding:6px 10px;text-align:center;border:1px solid @l;border-radius:@r;background:@b}' +
    '~ .sd-opt>span:hover{border-color:@a}~ .sd-opt input:checked+span{background:@a;border-color:@a;color:#fff;box-shadow:inset 0 0 0 2px @b;font-weight:700}' +
    '~ input:focus-visible+span,~ :is(textarea,input[type=text],button):focus-visible{outline:3px solid @a;outline-offset:2px}~ .sd-done:focus{outline:0}' +
    '~ .sd-grid{display:grid;gap:4px}~ .sd-grid>label>span{flex:1;min-width:0;padding:6px 0}' +
    '~ .sd-ends{display:grid;grid-template-columns:1fr 1fr;gap:12px;font-size:.85em;opacity:.8;margin-top:4px}~ .sd-ends>:last-child{text-align:right}' +
    '~ .sd-nps{grid-template-columns:repeat(11,minmax(0,1fr))}~ .sd-emoji>label>span{font-size:1.4em;padding:4px 14px}' +
    '~ textarea,~ input[type=text]{width:100%;font:inherit;color:inherit;background:@b;border:1px solid @l;border-radius:@r;padding:8px}~ [type=text]{margin-top:6px}' +
    '~ button{font:inherit;font-weight:600;color:#fff;background:@a;border:1px solid transparent;border-radius:@r;padding:8px 22px;cursor:pointer}' +
    '~ button[disabled]{opacity:.6;cursor:progress}~ .sd-err,~ .sd-qerr{color:#b91c1c;margin:8px 0 0}~ p:empty{display:none}~ .sd-done{font-weight:600;margin:0}' +
    '@media (max-width:440px){~{padding:14px 8px}~ .sd-grid{gap:0}}@media (forced-colors:active){~ .sd-opt input:checked+span{forced-color-adjust:none;background:Highlight;color:HighlightText}}' +
    '~ .sd-sr{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}')
    .replace(/~|@[ablr]/g, function (k) { return V[k]; });

  var PROMPTS = {
    nps: 'How likely are you to recommend us to a friend or colleague?',
    csat: 'How satisfied are you?', ces: 'How easy was it to get what you needed?',
    text: 'Anything else you would like to tell us?'
  };
  var ENDS = { nps: ['Not likely', 'Very likely'], csat: ['Very dissatisfied', 'Very satisfied'], ces: ['Very difficult', 'Very easy'] };

  function el(tag, attrs, kids) {
    var e = d.createElement(tag);
    for (var k in attrs) if (attrs[k] != null) k === 'text' ? (e.textContent = attrs[k]) : e.setAttribute(k, attrs[k]);
    (kids || []).forEach(function (c) { e.appendChild(c); });
    return e;
  }
  function uuid() {
    if (crypto.randomUUID) return crypto.randomUUID();
    return Array.from(crypto.getRandomValues(new Uint8Array(16)), function (b) { return (b + 256).toString(16).slice(1); }).join('');
  }

  /* One exchange, retried (network, 429, 5xx) after .5, 1, 2, 4 s with the same Idempotency-Key: stored once.
   * Resolves to {status, body}. token: the POST's edit token, which alone lets its PATCHes through. */
  function call(method, url, body, keepalive, token) {
    var opts = { method: method, mode: 'cors', credentials: 'omit', cache: 'no-store', keepalive: !!keepalive, headers: {} };
    if (body) {
      opts.body = JSON.stringify(body);
      opts.headers = { 'Content-Type': 'application/json', 'Idempotency-Key': uuid() };
    }
    if (token) opts.headers.Authorization = 'Bearer ' + token;
    var tries = 0;
    return (function go() {
      return fetch(url, opts).then(function (r) {
        if ((r.status >= 500 || r.status === 429) && tries < 4) throw r;
        return r.json().catch(function () {}).then(function (j) { return { status: r.status, body: j }; });
      }).catch(function (e) {
        if (tries > 3) { if (e && e.status) return { status: e.status }; throw e; }
        return new Promise(function (ok) { setTimeout(ok, 500 << tries++); }).then(go);
      });
    })();
  }

  function init(script) {
    if (script.surveydInit) return;
    script.surveydInit = true;
    var ds = script.dataset, survey = encodeURIComponent(ds.survey);
    var base = (ds.api || new URL(script.src, location.href).origin).replace(/\/$/, '');
    var id = 'sdw' + (++n) + '-';
    var box = el('div', { 'class': 'surveyd-widget', 'data-survey': ds.survey });
    var target = ds.target && d.querySelector(ds.target);
    if (target) target.appendChild(box); else script.parentNode.insertBefore(box, script.nextSibling);
    if (!d.getElementById('surveyd-css')) d.head.appendChild(el('style', { id: 'surveyd-css', text: CSS }));
    var note = box.appendChild(el('p', { 'class': 'sd-load', 'aria-live': 'polite', text: 'Loading survey…' }));

    call('GET', base + '/v1/surveys/' + survey).then(function (r) {
      if (r.status !== 200 || !r.body || !r.body.questions) throw r;
      box.removeChild(note);
      render(r.body.title, r.body.questions);
    }).catch(function () {
      note.className = 'sd-err';
      note.textContent = 'Sorry, this survey could not be loaded.';
    });

    function render(title, questions) {
      var values = {}, sent = {}, pending = {}, rid = null, edit = null, busy = false, timer, failed = false, waiters = [];
      var err = el('p', { 'class': 'sd-err', 'aria-live': 'polite' });
      var done = el('p', { 'class': 'sd-done', 'aria-live': 'polite', tabindex: '-1' });
      var button = el('button', { type: 'submit', text: 'Send' });
      var form = el('form', { 'aria-labelledby': id + 'title', novalidate: '' }, [el('h2', { id: id + 'title', text: title || 'Your feedback' })]);
      questions.forEach(function (q) { form.appendChild(question(q)); });
      form.appendChild(button);
      form.appendChild(err);
      box.appendChild(form);
      box.appendChild(done);

      /* q.read(): the answer or undefined. A scale's fieldset is its radiogroup (read once); q.invalid(on)
       * ties the error to it; input clears it, blur not: Send would move under the pointer. */
      function question(q) {
        var lid = id + q.id, name = id + 'q-' + q.id, t = q.type, req = q.required ? 'true' : null, timer2;
        var legend = el('legend', { id: lid, text: q.text || PROMPTS[t] || q.id.replace(/[_-]/g, ' ').replace(/^./, function (c) { return c.toUpperCase(); }) });
        if (q.required) legend.appendChild(el('span', { 'class': 'sd-req', 'aria-hidden': 'true', text: '*' }));
        var ends = ENDS[t] && q.scale !== 2 && lid + '-e', tx = t === 'text';
        var fs = el('fieldset', { 'data-question': q.id, role: tx ? 'none' : 'radiogroup', 'aria-labelledby': tx ? null : lid,
          'aria-required': tx ? null : req, 'aria-describedby': ends || null }, [legend]), node = fs;
        var qerr = el('p', { 'class': 'sd-qerr', id: lid + '-err' });
        var later = function (ms) { clearTimeout(timer2); timer2 = setTimeout(function () { changed(q, 0); }, ms); };
        q.invalid = function (on) {
          qerr.textContent = on ? 'Please answer this question.' : '';
          var by = [ends, on && qerr.id].filter(Boolean).join(' ');
          node[on ? 'setAttribute' : 'removeAttribute']('aria-invalid', 'true');
          node[by ? 'setAttribute' : 'removeAttribute']('aria-describedby', by);
        };
        if (tx) {
          var ta = node = fs.appendChild(el('textarea', { 'aria-labelledby': lid, rows: 3, maxlength: q.max_length || 2000, 'aria-required': req }));
          fs.appendChild(qerr);
          ta.oninput = function () { q.invalid(); later(1500); };
          ta.onblur = function () { clearTimeout(timer2); changed(q, 0); };
          q.read = function () { return ta.value.trim() ? ta.value : undefined; };
          return fs;
        }
        var opts = [], cls = 'sd-opts', i, other, grid = null;
        if (t === 'nps') { for (i = 0; i <= 10; i++) opts.push([i, '' + i]); cls += ' sd-grid sd-nps'; }
        else if (t === 'csat' && q.scale === 2) { opts = [[1, 'bad', '👎'], [2, 'good', '👍']]; cls += ' sd-emoji'; }
        else if (t === 'csat' || t === 'ces') {
          for (i = 1; i <= (q.scale || (t === 'ces' ? 7 : 5)); i++) opts.push([i, '' + i]);
          cls += ' sd-grid';
          grid = 'grid-template-columns:repeat(' + opts.length + ',minmax(0,1fr))';
        }
        else if (t === 'yes_no') opts = [[true, 'Yes'], [false, 'No']];
        else {
          (q.options || []).forEach(function (o) { opts.push([o, o]); });
          if (q.allow_other) opts.push([null, 'Other']);
        }
        var wrap = fs.appendChild(el('div', { style: grid ? 'max-width:' + (opts.length * 3.2) + 'em' : null }));
        var group = wrap.appendChild(el('div', { 'class': cls, style: grid }));
        var inputs = opts.map(function (o, k) {
          var input = el('input', { type: 'radio', name: name, id: name + k, value: k });
          group.appendChild(el('label', { 'class': 'sd-opt', 'for': name + k }, [input, o[2]
            ? el('span', {}, [el('span', { 'aria-hidden': 'true', text: o[2] }), el('span', { 'class': 'sd-sr', text: o[1] })])
            : el('span', { text: o[1] })]));
          input.onchange = function () { q.invalid(); changed(q, 300); };
          return input;
        });
        if (ends) wrap.appendChild(el('div', { 'class': 'sd-ends', id: ends }, [el('span', { text: ENDS[t][0] }), el('span', { text: ENDS[t][1] })]));
        if (q.allow_other && t === 'choice') {
          other = fs.appendChild(el('input', { type: 'text', 'aria-label': 'Other, please specify', maxlength: 2000 }));
          other.oninput = function () { if (other.value.trim()) inputs[opts.length - 1].checked = true; later(1500); };
          other.onblur = function () { later(0); };
        }
        fs.appendChild(qerr);
        q.read = function () {
          for (var k = 0; k < inputs.length; k++) {
            if (!inputs[k].checked) continue;
            if (opts[k][0] !== null) return opts[k][0];
            return other.value.trim() ? { other: other.value.trim() } : undefined;
          }
        };
        return fs;
      }

      function same(a, b) { return JSON.stringify(a) === JSON.stringify(b); }
      /* Notes a new answer and sends it after `delay` ms (arrow keys step: send where the visitor stops). */
      function changed(q, delay) {
        var v = q.read();
        if (v === undefined) {
          delete values[q.id];
          if (sent[q.id] !== undefined && !q.required) pending[q.id] = null; else delete pending[q.id];
        } else {
          values[q.id] = v;
          if (same(sent[q.id], v)) delete pending[q.id]; else pending[q.id] = v;
        }
        clearTimeout(timer);
        timer = setTimeout(flush, delay);
      }
      function release() { waiters.splice(0).forEach(function (f) { f(); }); }
      function missing() { return questions.filter(function (q) { return q.required && values[q.id] === undefined; }); }

      /* One request at a time: a POST once the required answers are given, then a PATCH per batch. */
      function flush(keepalive) {
        clearTimeout(timer);
        if (busy) return;
        var keys = Object.keys(pending), answers = {}, prev = {}, a, body = { answers: answers };
        if (!keys.length || (!rid && missing().length)) return release();
        if (!rid) {
          keys = Object.keys(values);
          ['channel', 'customer', 'agent', 'interaction'].forEach(function (f) { if (ds[f]) body[f] = ds[f]; });
        }
        keys.forEach(function (k) { answers[k] = rid ? pending[k] : values[k]; prev[k] = sent[k]; sent[k] = answers[k]; });
        var undo = function () { for (a in prev) if (prev[a] === undefined) delete sent[a]; else sent[a] = prev[a]; };
        pending = {};
        busy = true;
        call(rid ? 'PATCH' : 'POST', base + (rid ? '/v1/responses/' + rid : '/v1/surveys/' + survey + '/responses'), body, keepalive === true, rid && edit).then(function (r) {
          failed = r.status > 201;
          if (r.status === 201 && !rid) { rid = r.body && r.body.id; edit = r.body && r.body.edit_token; }
          if (failed) undo();
          err.textContent = !failed ? '' : r.status === 409 ? 'It looks like you have already answered this survey. Thank you!'
            : r.status === 403 ? 'Sorry, this survey cannot be answered from this page.'
            : 'Sorry, we could not save your answer. Please check it and try again.';
        }, function () {
          failed = true;
          undo();
          for (a in answers) if (!(a in pending)) pending[a] = answers[a];
          err.textContent = 'Sorry, we could not reach the server. Please try again in a moment.';
        }).then(function () {
          busy = false;
          if (!failed) flush();
          else release();
        });
      }

      form.onsubmit = function (e) {
        e.preventDefault();
        questions.forEach(function (q) { changed(q, 0); });
        var miss = missing();
        if (miss.length || !Object.keys(values).length) {
          err.textContent = miss.length ? 'Please answer the questions marked with an asterisk (*).' : 'Please answer at least one question.';
          miss.forEach(function (q) { q.invalid(true); });
          var f = miss.length && form.querySelector('[data-question="' + miss[0].id + '"] :is(input,textarea)');
          return f && f.focus();
        }
        if (!rid) for (var k in values) pending[k] = values[k];
        button.disabled = true;
        err.textContent = '';
        new Promise(function (ok) { waiters.push(ok); flush(); }).then(function () {
          button.disabled = false;
          if (!rid || failed || Object.keys(pending).length) return err.textContent || (err.textContent = 'Sorry, we could not save your answers. Please try again.');
          form.hidden = true;
          done.textContent = 'Thank you for your feedback!';
          done.focus();
        });
      };
      /* Leaving: send what still waits (keepalive). */
      addEventListener('pagehide', function () { if (Object.keys(pending).length) flush(true); });
    }
  }

  var cur = d.currentScript;
  if (cur && cur.dataset.survey) init(cur);
  else d.querySelectorAll('script[data-survey]').forEach(init);
})();
