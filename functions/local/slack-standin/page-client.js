// The browser side of the local rehearsal page (see page.ts). It polls the channel state, draws
// the real Block Kit the app posted, and turns a button press into a click the server signs and
// delivers to the app. Every string in a message is untrusted (it came from a node, an alarm or a
// user): the DOM is built with createElement and text nodes only, never innerHTML.

(() => {
  /** How often the page asks for the channel state; close to what a person perceives as live. */
  const POLL_MS = 700;

  /**
   * Slack emoji shortcodes the renderer uses, drawn with symbols every system font has (the demo
   * machine may lack a color emoji font). Unknown shortcodes stay as text, as in Slack.
   */
  const EMOJI = {
    mag: ['⌕', 'blue'],
    clipboard: ['▤', 'blue'],
    hourglass_flowing_sand: ['◷', 'orange'],
    wrench: ['⚒', 'grey'],
    stethoscope: ['✚', 'blue'],
    white_check_mark: ['✔', 'green'],
    heavy_check_mark: ['✔', 'green'],
    rotating_light: ['⚠', 'red'],
    warning: ['⚠', 'orange'],
    lock: ['■', 'grey'],
    red_circle: ['●', 'red'],
    large_orange_circle: ['●', 'orange'],
    large_blue_circle: ['●', 'blue'],
    grey_question: ['?', 'grey'],
    ballot_box_with_check: ['☑', 'green'],
    x: ['✖', 'red'],
    fast_forward: ['»', 'grey'],
    no_entry: ['⊘', 'red'],
  };

  const $ = (id) => document.getElementById(id);
  const picker = $('user-picker');
  const messagesEl = $('messages');
  const faultPicker = $('fault-picker');

  let selectedUser = null;
  let lastJson = '';
  let state = null;
  let pollTimer = null;
  let toastTimer = null;
  /** The button waiting for the confirm dialog's answer. */
  let confirming = null;
  /** True while this page waits for an inject or a reset it asked for. */
  let consoleBusy = false;

  /** Create an element with attributes (never `on*` from data) and text/element children. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key === 'testid') node.dataset.testid = value;
      else node.setAttribute(key, String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === undefined || child === null || child === false) continue;
      node.append(typeof child === 'string' ? document.createTextNode(child) : child);
    }
    return node;
  }

  /** Slack escapes exactly these three in message text. */
  function unescapeSlack(text) {
    return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  }

  /** Text with :shortcode: emoji as symbols; everything else stays a text node. */
  function emojiText(text) {
    const out = [];
    const re = /:([a-z0-9_+-]+):/g;
    let last = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      const known = EMOJI[m[1]];
      if (!known) continue;
      if (m.index > last) out.push(text.slice(last, m.index));
      out.push(el('span', { class: `emoji ${known[1]}`, title: m[0], 'aria-label': m[1] }, known[0]));
      last = m.index + m[0].length;
    }
    if (last < text.length) out.push(text.slice(last));
    return out;
  }

  function userName(id) {
    const user = state?.users.find((u) => u.id === id);
    return user ? user.name : id;
  }

  function groupName(id) {
    const group = state?.groups.find((g) => g.id === id);
    return group ? group.name : id;
  }

  /** One `<…>` token of mrkdwn: mentions, dates, links; anything else is shown as written. */
  function angle(token) {
    const bar = token.indexOf('|');
    const head = bar < 0 ? token : token.slice(0, bar);
    const label = bar < 0 ? null : unescapeSlack(token.slice(bar + 1));
    if (/^@[UW][A-Z0-9]+$/.test(head)) {
      return el('span', { class: 'mention', title: head.slice(1) }, `@${label ?? userName(head.slice(1))}`);
    }
    if (/^#C[A-Z0-9]+$/.test(head)) return el('span', { class: 'mention' }, `#${label ?? head.slice(1)}`);
    const subteam = /^!subteam\^(S[A-Z0-9]+)$/.exec(head);
    if (subteam) {
      const name = label ? label.replace(/^@/, '') : groupName(subteam[1]);
      return el('span', { class: 'mention', title: subteam[1] }, `@${name}`);
    }
    if (/^!(here|channel|everyone)$/.test(head)) return el('span', { class: 'mention' }, `@${head.slice(1)}`);
    const date = /^!date\^(\d+)\^/.exec(head);
    if (date) {
      const when = new Date(Number(date[1]) * 1000);
      const text = Number.isNaN(when.getTime()) ? (label ?? head) : when.toLocaleString();
      return el('time', { datetime: when.toISOString(), title: label ?? '' }, text);
    }
    const url = unescapeSlack(head);
    if (/^(https?:|mailto:)/i.test(url)) {
      return el('a', { href: url, target: '_blank', rel: 'noopener noreferrer' }, label ?? url);
    }
    return document.createTextNode(`<${unescapeSlack(token)}>`);
  }

  /**
   * Inline mrkdwn: `code`, <tokens>, *bold*, _italic_, ~strike~ (markers only at word edges, as
   * in Slack, so snake_case and globs stay text).
   */
  const INLINE =
    /`([^`\n]+)`|<([^<>\n]+)>|(?<![\w*])\*(\S(?:[^*\n]*?\S)?)\*(?![\w*])|(?<![\w_])_(\S(?:[^_\n]*?\S)?)_(?![\w_])|(?<![\w~])~(\S(?:[^~\n]*?\S)?)~(?![\w~])/g;

  function inline(text) {
    const out = [];
    const re = new RegExp(INLINE.source, 'g');
    let last = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      if (m.index > last) out.push(...emojiText(unescapeSlack(text.slice(last, m.index))));
      if (m[1] !== undefined) out.push(el('code', {}, unescapeSlack(m[1])));
      else if (m[2] !== undefined) out.push(angle(m[2]));
      else if (m[3] !== undefined) out.push(el('b', {}, inline(m[3])));
      else if (m[4] !== undefined) out.push(el('i', {}, inline(m[4])));
      else out.push(el('s', {}, inline(m[5])));
      last = m.index + m[0].length;
    }
    if (last < text.length) out.push(...emojiText(unescapeSlack(text.slice(last))));
    return out;
  }

  /** Lines of mrkdwn outside code blocks: `>` quotes grouped, line breaks kept. */
  function lines(text, out) {
    let quote = null;
    let first = true;
    for (const line of text.split('\n')) {
      if (line.startsWith('>')) {
        if (!quote) {
          quote = el('blockquote');
          out.push(quote);
        } else quote.append(el('br'));
        quote.append(...inline(line.replace(/^> ?/, '')));
        first = false;
        continue;
      }
      quote = null;
      if (!first && out.length > 0 && out[out.length - 1].tagName !== 'BLOCKQUOTE') out.push(el('br'));
      out.push(...inline(line));
      first = false;
    }
  }

  /** Render Slack mrkdwn into a container element. */
  function mrkdwn(text, attrs) {
    const out = [];
    const parts = text.split('```');
    parts.forEach((part, i) => {
      const isCode = i % 2 === 1 && i < parts.length - 1;
      if (isCode) out.push(el('pre', {}, unescapeSlack(part.replace(/^\n/, ''))));
      else lines(i % 2 === 1 ? `\`\`\`${part}` : part, out);
    });
    return el('div', { class: 'mrkdwn', ...attrs }, out);
  }

  /** A text object: plain_text (with emoji) or mrkdwn. */
  function textObject(obj, attrs) {
    if (!obj || typeof obj.text !== 'string') return null;
    if (obj.type === 'plain_text') return el('span', attrs || {}, emojiText(obj.text));
    return mrkdwn(obj.text, attrs);
  }

  function button(element, message) {
    const style = element.style === 'primary' || element.style === 'danger' ? element.style : '';
    const node = el(
      'button',
      { type: 'button', class: `btn ${style}`.trim(), testid: `action-${element.action_id}` },
      emojiText(element.text?.text ?? element.action_id),
    );
    node.addEventListener('click', () => {
      if (element.confirm) openConfirm(element, message, node);
      else sendClick(element, message, node);
    });
    // Ephemeral messages' buttons would need Slack's ephemeral container: not offered here.
    if (message.ephemeral) node.disabled = true;
    return node;
  }

  function element(elementObj, message) {
    if (elementObj?.type === 'button') return button(elementObj, message);
    if (elementObj?.type === 'image')
      return el('span', { class: 'unsupported' }, `[image: ${elementObj.alt_text ?? ''}]`);
    return el('span', { class: 'unsupported' }, `(unsupported element: ${String(elementObj?.type)})`);
  }

  /** One Block Kit block. */
  function block(b, message, role) {
    switch (b?.type) {
      case 'header':
        return el(
          'div',
          { class: 'b-header', testid: role.phaseFree ? 'phase' : undefined },
          emojiText(b.text?.text ?? ''),
        );
      case 'section': {
        const main = el('div', { class: 'section-main' }, textObject(b.text));
        if (Array.isArray(b.fields)) {
          main.append(
            el(
              'div',
              { class: 'fields' },
              b.fields.map((f) => textObject(f)),
            ),
          );
        }
        return el('div', { class: 'b-section' }, main, b.accessory ? element(b.accessory, message) : null);
      }
      case 'context':
        return el(
          'div',
          { class: 'b-context' },
          (b.elements || []).map((e) =>
            e?.type === 'image' ? el('span', {}, `[${e.alt_text ?? 'image'}]`) : textObject(e),
          ),
        );
      case 'divider':
        return el('hr', { class: 'b-divider' });
      case 'actions':
        return el(
          'div',
          { class: 'b-actions' },
          (b.elements || []).map((e) => element(e, message)),
        );
      case 'image':
        return el('div', { class: 'unsupported' }, `[image: ${b.alt_text ?? ''}]`);
      default:
        return el('div', { class: 'unsupported' }, `(unsupported block: ${String(b?.type)})`);
    }
  }

  function timeOf(ts) {
    const when = new Date(Number(ts.split('.')[0]) * 1000);
    return Number.isNaN(when.getTime()) ? ts : when.toLocaleTimeString();
  }

  /** One message; `role` says which test id it carries and whether its header is the phase. */
  function message(m, role) {
    const classes = ['msg'];
    if (m.ephemeral) classes.push('ephemeral');
    if (role.testid === 'card') classes.push('card');
    const content = [];
    if (Array.isArray(m.blocks) && m.blocks.length > 0) {
      let phaseFree = role.testid === 'card';
      for (const b of m.blocks) {
        content.push(block(b, m, { phaseFree: phaseFree && b?.type === 'header' }));
        if (b?.type === 'header') phaseFree = false;
      }
    } else {
      content.push(mrkdwn(m.text));
    }
    const initials = m.bot ? 'nm' : m.userName.slice(0, 2);
    return el(
      'div',
      { class: classes.join(' '), testid: role.testid, 'data-ts': m.ts },
      el('div', { class: `avatar${m.bot ? ' bot' : ''}`, 'aria-hidden': 'true' }, initials),
      el(
        'div',
        { class: 'body' },
        el(
          'div',
          { class: 'meta' },
          el('span', { class: 'name' }, m.userName),
          m.bot ? el('span', { class: 'app-badge' }, 'app') : null,
          el('span', { class: 'time' }, timeOf(m.ts)),
          m.edited ? el('span', { class: 'edited' }, '(edited)') : null,
        ),
        content,
        m.ephemeral ? el('div', { class: 'ephemeral-note' }, '◉ Only visible to you') : null,
      ),
    );
  }

  /**
   * The incident's thread is the newest one with a message from the app. Its first app message is
   * the status card (the root, or the first reply when the app answered an alert thread) and the
   * app's next message is the findings.
   */
  function roles(threads) {
    const found = new Map();
    for (let i = threads.length - 1; i >= 0; i--) {
      const thread = threads[i];
      const fromApp = [thread, ...thread.replies].filter((m) => m.bot && !m.ephemeral);
      if (fromApp.length === 0) continue;
      found.set(fromApp[0].ts, 'card');
      if (fromApp[1]) found.set(fromApp[1].ts, 'findings');
      break;
    }
    return found;
  }

  function render() {
    const threads = state.messages;
    const special = roles(threads);
    const testidOf = (m, fallback) => (m.ephemeral ? 'ephemeral' : (special.get(m.ts) ?? fallback));
    const atBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
    const nodes = threads.map((thread) => {
      const parts = [message(thread, { testid: testidOf(thread, 'message') })];
      if (thread.replies.length > 0) {
        const count = thread.replies.length;
        parts.push(el('div', { class: 'thread-count' }, `${count} ${count === 1 ? 'reply' : 'replies'}`));
        parts.push(
          el(
            'div',
            { class: 'thread', testid: 'thread' },
            thread.replies.map((r) => message(r, { testid: testidOf(r, 'reply') })),
          ),
        );
      }
      return el('div', { class: 'thread-group' }, parts);
    });
    if (nodes.length === 0) nodes.push(el('div', { class: 'empty' }, 'Waiting for nodemedic to post…'));
    messagesEl.replaceChildren(...nodes);
    if (atBottom) window.scrollTo(0, document.body.scrollHeight);
  }

  function renderChrome() {
    document.title = state.title;
    $('title').textContent = state.title;
    $('channel-name').textContent = `#${state.channel}`;
    $('channel-link').textContent = `# ${state.channel}`;
    const banner = $('banner');
    banner.hidden = !state.banner;
    banner.textContent = state.banner ?? '';
    if (picker.options.length !== state.users.length) {
      picker.replaceChildren(...state.users.map((u) => el('option', { value: u.id }, u.name)));
    }
    picker.value = state.user;
    renderConsole();
  }

  /** The game-day console: the fault picker, Inject and Reset, and what the console last did. */
  function renderConsole() {
    const c = state.console;
    $('console').hidden = !c;
    if (!c) return;
    const ids = c.faults.map((f) => f.id).join(',');
    if (faultPicker.dataset.ids !== ids) {
      faultPicker.replaceChildren(...c.faults.map((f) => el('option', { value: f.id }, f.id)));
      faultPicker.dataset.ids = ids;
      if (c.status.fault) faultPicker.value = c.status.fault;
    }
    const chosen = c.faults.find((f) => f.id === faultPicker.value);
    $('fault-description').textContent = chosen ? chosen.description : '';
    const { note, injectBlocked, resetBlocked } = c.status;
    $('inject').disabled = consoleBusy || Boolean(injectBlocked);
    $('reset-node').disabled = consoleBusy || Boolean(resetBlocked);
    $('inject').title = injectBlocked ?? 'Inject this fault into the node and fire a new NotReady alarm';
    $('reset-node').title = resetBlocked ?? 'Restore a healthy containerd on the node';
    const status = $('console-status');
    status.textContent = injectBlocked ? `${note} Inject waits: ${injectBlocked}.` : note;
    status.className = injectBlocked ? 'console-status blocked' : 'console-status';
  }

  /** Ask the console to act; the answer (or the refusal and its reason) shows as a toast. */
  async function consoleAction(path, body, label) {
    consoleBusy = true;
    if (state) renderConsole();
    try {
      const res = await fetch(path, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const answer = await res.json();
      if (!res.ok || !answer.ok) toast(`${label} refused: ${answer.message ?? `HTTP ${res.status}`}`, true);
      else toast(answer.message, false);
    } catch (err) {
      toast(`${label} failed: ${err instanceof Error ? err.message : String(err)}`, true);
    } finally {
      consoleBusy = false;
      // Draw the console again even when the state did not change meanwhile.
      lastJson = '';
      refresh();
    }
  }

  function toast(text, isError) {
    const node = $('toast');
    node.textContent = text;
    node.className = isError ? 'toast error' : 'toast';
    node.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => {
      node.hidden = true;
    }, 6000);
  }

  function setConnection(ok, text) {
    const node = $('connection');
    node.textContent = text;
    node.className = ok ? 'connection' : 'connection down';
  }

  /** One state request at a time; a refresh asked for meanwhile runs right after it. */
  let inflight = false;
  let queued = false;

  async function refresh() {
    if (inflight) {
      queued = true;
      return;
    }
    inflight = true;
    clearTimeout(pollTimer);
    try {
      const asked = selectedUser;
      const query = asked ? `?user=${encodeURIComponent(asked)}` : '';
      const res = await fetch(`/_page/state${query}`, { cache: 'no-store' });
      const json = await res.text();
      if (!res.ok) throw new Error(`state: HTTP ${res.status} ${json}`);
      setConnection(true, 'live');
      // A state fetched for the user the picker showed before a change is already stale.
      if (json !== lastJson && asked === selectedUser) {
        lastJson = json;
        state = JSON.parse(json);
        selectedUser = state.user;
        renderChrome();
        render();
      }
    } catch (err) {
      setConnection(false, `connection lost (${err instanceof Error ? err.message : String(err)})`);
    } finally {
      inflight = false;
      if (queued) {
        queued = false;
        refresh();
      } else {
        pollTimer = setTimeout(refresh, POLL_MS);
      }
    }
  }

  async function sendClick(elementObj, m, node) {
    node.disabled = true;
    const who = userName(selectedUser);
    try {
      const res = await fetch('/_page/click', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ messageTs: m.ts, actionId: elementObj.action_id, user: selectedUser }),
      });
      const answer = await res.json();
      if (!res.ok || !answer.ok) {
        toast(`Click not delivered: ${answer.message ?? `HTTP ${res.status}`}`, true);
      } else if (answer.statusCode !== 200) {
        toast(`The app answered HTTP ${answer.statusCode} to ${who}'s click`, true);
      } else {
        toast(`Sent “${elementObj.text?.text ?? elementObj.action_id}” as ${who}`, false);
      }
    } catch (err) {
      toast(`Click failed: ${err instanceof Error ? err.message : String(err)}`, true);
    } finally {
      node.disabled = false;
      refresh();
    }
  }

  function openConfirm(elementObj, m, node) {
    const c = elementObj.confirm;
    confirming = { elementObj, m, node };
    $('confirm-title').textContent = c.title?.text ?? 'Are you sure?';
    const text = $('confirm-text');
    text.replaceChildren(textObject(c.text) ?? document.createTextNode(''));
    const ok = $('confirm-ok');
    ok.textContent = c.confirm?.text ?? 'Yes';
    ok.className = c.style === 'danger' ? 'btn danger solid' : 'btn primary';
    $('confirm-cancel').textContent = c.deny?.text ?? 'Cancel';
    $('confirm').hidden = false;
    ok.focus();
  }

  function closeConfirm() {
    $('confirm').hidden = true;
    confirming = null;
  }

  $('confirm-ok').addEventListener('click', () => {
    const pending = confirming;
    closeConfirm();
    if (pending) sendClick(pending.elementObj, pending.m, pending.node);
  });
  $('confirm-cancel').addEventListener('click', closeConfirm);
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && confirming) closeConfirm();
  });
  faultPicker.addEventListener('change', () => {
    if (state) renderConsole();
  });
  $('inject').addEventListener('click', () =>
    consoleAction('/_page/console/inject', { fault: faultPicker.value }, 'Inject'),
  );
  $('reset-node').addEventListener('click', () => consoleAction('/_page/console/reset', {}, 'Reset'));
  picker.addEventListener('change', () => {
    selectedUser = picker.value;
    refresh();
  });

  refresh();
})();
