/* The gallery page: browse, upload, view and comment on images, through the public API only.

   Names and comments are user input: text from the API is only ever put into the
   page with textContent (or as attribute values), never parsed as HTML.
   Edit tokens from 201 answers are kept in localStorage under the resource's URL
   and sent as `Authorization: Bearer <token>` to change or delete that resource;
   an API key, when the server needs one, is kept there too and sent with other writes. */
'use strict';

(function () {
  const API = '/api/v1.0';
  const PAGE_SIZE = 24;
  /** Widths the grid asks for (sized variants; the grid never loads a full image). */
  const GRID_WIDTHS = [160, 320, 640];
  const GRID_SIZES = '(max-width: 520px) 50vw, (max-width: 900px) 33vw, 260px';
  const KEY_STORAGE = 'falcon-img:api-key';
  const TOKEN_STORAGE = 'falcon-img:edit-token:';
  const IMAGE_ROUTE = /^#\/images\/([0-9]{1,19})$/;

  const $ = (id) => document.getElementById(id);

  /** A new element: attrs are attributes (or `text`, `class`, `on<event>`); children are nodes or plain text. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === 'text') node.textContent = value;
      else if (name === 'class') node.className = value;
      else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? '' : String(value));
    }
    // Strings become text nodes here, never markup.
    node.append(...children.filter((child) => child !== null && child !== undefined && child !== false));
    return node;
  }

  // -- storage: tokens and the API key -------------------------------------

  const store = {
    get(key) {
      try { return window.localStorage.getItem(key); } catch (error) { return null; }
    },
    set(key, value) {
      try { window.localStorage.setItem(key, value); } catch (error) { /* private mode: keep going without */ }
    },
    remove(key) {
      try { window.localStorage.removeItem(key); } catch (error) { /* nothing to remove */ }
    },
  };

  const apiKey = () => store.get(KEY_STORAGE);
  const rememberToken = (url, token) => { if (url && token) store.set(TOKEN_STORAGE + url, token); };
  const forgetToken = (url) => store.remove(TOKEN_STORAGE + url);

  /** What to send for a write: the resource's own edit token, else the API key. */
  function credentialFor(resourceUrl) {
    return (resourceUrl && store.get(TOKEN_STORAGE + resourceUrl)) || apiKey();
  }

  // -- talking to the API ---------------------------------------------------

  class ApiError extends Error {
    constructor(status, message, body) {
      super(message);
      this.status = status;
      this.body = body || {};
    }
  }

  function errorFrom(status, body) {
    const message = body && typeof body.message === 'string' && body.message
      ? body.message
      : `The server answered ${status}; try again.`;
    return new ApiError(status, message, body);
  }

  /** JSON in, JSON out; a non-2xx answer throws an ApiError carrying the server's `message`. */
  async function api(method, url, { body, credentialUrl } = {}) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (method !== 'GET') {
      const credential = credentialFor(credentialUrl);
      if (credential) headers.Authorization = `Bearer ${credential}`;
    }
    let response;
    try {
      response = await fetch(url, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin',
      });
    } catch (error) {
      throw new ApiError(0, 'The server cannot be reached. Check the connection and try again.');
    }
    const data = await response.json().catch(() => null);
    if (!response.ok) throw errorFrom(response.status, data);
    return data;
  }

  /** After a refused write: say why, and where a 401 says a key is needed, offer the key panel. */
  function explainRefusal(error, showMessage) {
    if (error.status === 401) {
      showMessage(`${error.message} Paste an API key under “API key” at the top of the page.`);
      openKeyPanel('This server needs an API key (or the item\'s edit token) for that.');
    } else {
      showMessage(error.message);
    }
  }

  // -- small formatting -------------------------------------------------------

  const numberFormat = new Intl.NumberFormat();
  const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

  function formatBytes(bytes) {
    if (bytes < 1024) return `${numberFormat.format(bytes)} bytes`;
    const units = ['KB', 'MB', 'GB'];
    let value = bytes / 1024;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
    return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]} (${numberFormat.format(bytes)} bytes)`;
  }

  function timeElement(iso) {
    const date = new Date(iso);
    return el('time', { datetime: iso, text: Number.isNaN(date.getTime()) ? iso : dateFormat.format(date) });
  }

  const plural = (count, one, many) => `${numberFormat.format(count)} ${count === 1 ? one : many}`;
  const imageIdFromUrl = (url) => { const match = /\/images\/([0-9]+)$/.exec(url || ''); return match ? match[1] : null; };

  let toastTimer = 0;
  function toast(message) {
    const box = $('toast');
    box.textContent = message;
    window.clearTimeout(toastTimer);
    toastTimer = window.setTimeout(() => { box.textContent = ''; }, 5000);
  }

  // -- the API key panel ----------------------------------------------------

  function renderKeyState(note) {
    const hasKey = Boolean(apiKey());
    $('key-button').textContent = hasKey ? 'API key ✓' : 'API key';
    $('key-state').textContent = note || (hasKey ? 'A key is saved in this browser.' : 'No key saved.');
  }

  function openKeyPanel(note) {
    $('key-panel').hidden = false;
    $('key-button').setAttribute('aria-expanded', 'true');
    renderKeyState(note);
    // Over the open image view, the panel is not reachable: say so where the user is.
    if (!$('viewer').open) $('key-input').focus();
  }

  function closeKeyPanel() {
    $('key-panel').hidden = true;
    $('key-button').setAttribute('aria-expanded', 'false');
  }

  function setUpKeyPanel() {
    $('key-button').addEventListener('click', () => {
      if ($('key-panel').hidden) openKeyPanel(); else closeKeyPanel();
    });
    $('key-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const value = $('key-input').value.trim();
      if (!value) { renderKeyState('Paste a key first.'); return; }
      store.set(KEY_STORAGE, value);
      $('key-input').value = '';
      renderKeyState('Saved. It will be sent with uploads and changes.');
    });
    $('key-forget').addEventListener('click', () => {
      store.remove(KEY_STORAGE);
      renderKeyState('The key is forgotten.');
    });
    renderKeyState();
  }

  // -- the grid -------------------------------------------------------------

  const gallery = {
    next: `${API}/images?limit=${PAGE_SIZE}`,
    loading: false,
    /** image id -> {image, item}: what the grid shows, so pages and uploads never duplicate a card. */
    shown: new Map(),
    observer: null,
  };

  const variantUrl = (image, width) => `${image.file_url}?w=${width}`;

  function cardMeta(image) {
    return `${image.width} × ${image.height} · ${plural(image.comments_count || 0, 'comment', 'comments')}`;
  }

  function buildCard(image) {
    const picture = el('img', {
      src: variantUrl(image, 320),
      srcset: GRID_WIDTHS.map((width) => `${variantUrl(image, width)} ${width}w`).join(', '),
      sizes: GRID_SIZES,
      alt: image.name,
      width: 320,
      height: 320,
      loading: 'lazy',
      decoding: 'async',
    });
    const link = el('a', { class: 'card', href: `#/images/${image.id}`, 'data-image-id': image.id },
      picture,
      el('span', { class: 'card-caption' },
        // The image's alt text already names it for screen readers.
        el('span', { class: 'card-name', 'aria-hidden': 'true', text: image.name }),
        el('span', { class: 'card-meta', text: cardMeta(image) })));
    return el('li', {}, link);
  }

  function addCard(image, { atStart = false, isNew = false } = {}) {
    if (gallery.shown.has(image.id)) return;
    const item = buildCard(image);
    if (isNew) item.firstChild.classList.add('is-new');
    gallery.shown.set(image.id, { image, item });
    if (atStart) $('grid').prepend(item); else $('grid').append(item);
    renderGalleryState();
  }

  function removeCard(id) {
    const entry = gallery.shown.get(id);
    if (!entry) return;
    entry.item.remove();
    gallery.shown.delete(id);
    renderGalleryState();
  }

  function updateCard(image) {
    const entry = gallery.shown.get(image.id);
    if (!entry) return;
    entry.image = image;
    entry.item.querySelector('.card-meta').textContent = cardMeta(image);
  }

  function renderGalleryState() {
    const count = gallery.shown.size;
    $('gallery-empty').hidden = count > 0 || gallery.next !== null;
    $('gallery-count').textContent = count ? plural(count, 'image', 'images') + (gallery.next ? ' so far' : '') : '';
    $('load-more').hidden = gallery.next === null;
  }

  async function loadMore() {
    if (gallery.loading || !gallery.next) return;
    gallery.loading = true;
    $('load-more').disabled = true;
    $('gallery-status').textContent = 'Loading images…';
    try {
      const page = await api('GET', gallery.next);
      gallery.next = page.next;
      page.images.forEach((image) => addCard(image));
      $('gallery-status').textContent = '';
    } catch (error) {
      $('gallery-status').textContent = error.message;
    } finally {
      gallery.loading = false;
      $('load-more').disabled = false;
      renderGalleryState();
      // Observing again reports at once whether the button is still in view (a short page).
      if (gallery.observer && gallery.next) {
        gallery.observer.unobserve($('load-more'));
        gallery.observer.observe($('load-more'));
      }
    }
  }

  function setUpGrid() {
    $('load-more').addEventListener('click', loadMore);
    if ('IntersectionObserver' in window) {
      gallery.observer = new IntersectionObserver((entries) => {
        if (entries.some((entry) => entry.isIntersecting)) loadMore();
      }, { rootMargin: '800px 0px' });
      gallery.observer.observe($('load-more'));
    }
    loadMore();
  }

  // -- uploads --------------------------------------------------------------

  const uploadQueue = [];
  let uploading = false;

  function queueUploads(files) {
    const list = Array.from(files || []);
    if (!list.length) return;
    list.forEach((file) => uploadQueue.push({ file, row: uploadRow(file) }));
    if (!uploading) drainQueue();
  }

  async function drainQueue() {
    uploading = true;
    while (uploadQueue.length) {
      const { file, row } = uploadQueue.shift();
      await upload(file, row);
    }
    uploading = false;
  }

  function uploadRow(file) {
    const progress = el('progress', { max: 1, value: 0, 'aria-label': `Upload of ${file.name}` });
    const state = el('span', { class: 'upload-state', text: 'Waiting…' });
    const row = el('li', { class: 'upload' }, el('span', { class: 'upload-name', text: file.name }), state, progress);
    $('uploads').append(row);
    return { row, state, progress };
  }

  function finishRow({ row, state, progress }, ok, message, extra) {
    progress.remove();
    row.classList.add(ok ? 'is-done' : 'is-failed');
    state.textContent = ok ? 'Added' : 'Refused';
    if (!ok) {
      row.append(el('p', { class: 'upload-message', role: 'alert', text: message }));
      const dismiss = el('button', { type: 'button', class: 'button button-small', text: 'Dismiss', onclick: () => row.remove() });
      row.append(el('div', { class: 'upload-actions' }, extra || null, dismiss));
    } else {
      window.setTimeout(() => row.remove(), 4000);
    }
  }

  /** One file up with XMLHttpRequest, whose upload events drive the progress bar. */
  function upload(file, parts) {
    return new Promise((resolve) => {
      const request = new XMLHttpRequest();
      request.open('POST', `${API}/images`);
      request.setRequestHeader('Accept', 'application/json');
      const key = apiKey();
      if (key) request.setRequestHeader('Authorization', `Bearer ${key}`);
      request.responseType = 'json';
      parts.state.textContent = 'Uploading…';
      request.upload.addEventListener('progress', (event) => {
        if (!event.lengthComputable) return;
        parts.progress.max = event.total;
        parts.progress.value = event.loaded;
        parts.state.textContent = `${Math.round((100 * event.loaded) / event.total)}%`;
      });
      request.addEventListener('load', () => {
        const body = request.response;
        if (request.status === 201 && body) {
          rememberToken(body.image_url, body.edit_token);
          finishRow(parts, true);
          // The grid is in creation order: a new image belongs at its end once every page is in;
          // until then it is shown first, and the page that holds it later will not repeat it.
          addCard(body, { atStart: gallery.next !== null, isNew: true });
          toast(`Added “${body.name}”`);
        } else {
          const error = errorFrom(request.status, body);
          const existing = request.status === 409 ? imageIdFromUrl(body && body.image_url) : null;
          const link = existing ? el('a', { class: 'button button-small', href: `#/images/${existing}`, text: 'Show that image' }) : null;
          finishRow(parts, false, error.message, link);
          if (request.status === 401) openKeyPanel('Uploads on this server need an API key.');
        }
        resolve();
      });
      request.addEventListener('error', () => {
        finishRow(parts, false, 'The upload did not reach the server. Check the connection and try again.');
        resolve();
      });
      const form = new FormData();
      form.append('file', file, file.name);
      request.send(form);
    });
  }

  function setUpUploads() {
    const input = $('file-input');
    $('choose-files').addEventListener('click', () => input.click());
    input.addEventListener('change', () => {
      queueUploads(input.files);
      input.value = '';
    });

    // Files dropped anywhere on the page are uploaded.
    let depth = 0;
    const carriesFiles = (event) => Array.from(event.dataTransfer ? event.dataTransfer.types : []).includes('Files');
    const showDropping = (on) => {
      $('drop-overlay').hidden = !on;
      $('uploader').classList.toggle('is-dragging', on);
    };
    document.addEventListener('dragenter', (event) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      depth += 1;
      showDropping(true);
    });
    document.addEventListener('dragover', (event) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = 'copy';
    });
    document.addEventListener('dragleave', (event) => {
      if (!carriesFiles(event)) return;
      depth = Math.max(0, depth - 1);
      if (depth === 0) showDropping(false);
    });
    document.addEventListener('drop', (event) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      depth = 0;
      showDropping(false);
      queueUploads(event.dataTransfer.files);
    });
  }

  // -- the image view (#/images/ID) ----------------------------------------

  const viewer = {
    id: null,
    image: null,
    commentsNext: null,
    /** Comment ids on screen, so "show more" and new comments never duplicate one. */
    commentIds: new Set(),
    returnFocusTo: null,
  };

  function showViewerError(message) {
    const box = $('viewer-error');
    box.textContent = message;
    box.hidden = !message;
  }

  function metaRow(term, value) {
    return [el('dt', { text: term }), el('dd', {}, value)];
  }

  function renderImage(image) {
    viewer.image = image;
    $('viewer-title').textContent = image.name;
    const picture = $('viewer-image');
    picture.alt = image.name;
    picture.width = image.width;
    picture.height = image.height;
    picture.src = image.file_url;
    picture.hidden = false;
    $('viewer-original').href = image.file_url;
    $('viewer-download').href = `${image.file_url}?download=1`;
    $('viewer-meta').replaceChildren(
      ...metaRow('Name', image.name),
      ...metaRow('Size', formatBytes(image.size)),
      ...metaRow('Dimensions', `${image.width} × ${image.height} px`),
      ...metaRow('Type', image.content_type),
      ...metaRow('Created', timeElement(image.created_at)),
    );
    updateCard(image);
  }

  function clearViewer() {
    viewer.image = null;
    viewer.commentsNext = null;
    viewer.commentIds.clear();
    $('viewer-title').textContent = 'Loading…';
    $('viewer-image').hidden = true;
    $('viewer-image').removeAttribute('src');
    $('viewer-meta').replaceChildren();
    $('comments').replaceChildren();
    $('comments-empty').hidden = true;
    $('comments-more').hidden = true;
    $('comment-text').value = '';
    showViewerError('');
  }

  async function openViewer(id) {
    const dialog = $('viewer');
    if (viewer.id === id && dialog.open) return;
    viewer.id = id;
    clearViewer();
    if (!dialog.open) {
      viewer.returnFocusTo = document.activeElement;
      dialog.showModal();
    }
    $('viewer-close').focus();
    try {
      const image = await api('GET', `${API}/images/${id}`);
      if (viewer.id !== id) return;
      renderImage(image);
      await loadComments(image.comm_url, id);
    } catch (error) {
      if (viewer.id !== id) return;
      $('viewer-title').textContent = 'Image not available';
      showViewerError(error.status === 404 ? 'This image does not exist (any more).' : error.message);
    }
  }

  function closeViewer() {
    const dialog = $('viewer');
    const id = viewer.id;
    viewer.id = null;
    if (!dialog.open) return;
    dialog.close();
    clearViewer();
    // Back to the card that was opened, or to what had focus before.
    const entry = id !== null ? gallery.shown.get(id) : null;
    const target = entry ? entry.item.querySelector('a') : viewer.returnFocusTo;
    // A deleted image's card is gone: the gallery itself takes the focus.
    if (target && target !== document.body && document.contains(target)) target.focus(); else $('gallery').focus();
  }

  /** Leave the image view: drop the #/images/ID part of the URL and show the gallery. */
  function leaveViewer() {
    if (IMAGE_ROUTE.test(window.location.hash)) {
      window.history.pushState(null, '', window.location.pathname + window.location.search);
    }
    route();
  }

  function route() {
    const match = IMAGE_ROUTE.exec(window.location.hash);
    if (match) openViewer(Number(match[1])); else closeViewer();
  }

  async function deleteImage() {
    const image = viewer.image;
    if (!image || !window.confirm(`Delete “${image.name}” and its comments?`)) return;
    const button = $('viewer-delete');
    button.disabled = true;
    try {
      await api('DELETE', image.image_url, { credentialUrl: image.image_url });
      forgetToken(image.image_url);
      removeCard(image.id);
      leaveViewer();
      toast(`Deleted “${image.name}”`);
    } catch (error) {
      explainRefusal(error, showViewerError);
    } finally {
      button.disabled = false;
    }
  }

  // -- comments ---------------------------------------------------------------

  function renderCommentsState() {
    $('comments-empty').hidden = $('comments').children.length > 0;
    $('comments-more').hidden = viewer.commentsNext === null;
  }

  async function loadComments(url, id) {
    const page = await api('GET', url);
    if (viewer.id !== id) return;
    viewer.commentsNext = page.next;
    page.comments.forEach(appendComment);
    renderCommentsState();
  }

  function appendComment(comment) {
    if (viewer.commentIds.has(comment.id)) return;
    viewer.commentIds.add(comment.id);
    $('comments').append(commentItem(comment));
  }

  function commentItem(comment) {
    const item = el('li', { class: 'comment', 'data-comment-id': comment.id });
    renderComment(item, comment);
    return item;
  }

  function renderComment(item, comment) {
    const edited = comment.updated_at && comment.updated_at !== comment.created_at;
    item.replaceChildren(
      el('p', { class: 'comment-text', text: comment.text }),
      el('div', { class: 'comment-footer' },
        timeElement(comment.created_at),
        edited ? el('span', { text: '(edited)' }) : null,
        el('button', { type: 'button', class: 'button button-small', text: 'Edit', onclick: () => editComment(item, comment) }),
        el('button', { type: 'button', class: 'button button-small button-danger', text: 'Delete', onclick: () => deleteComment(item, comment) })),
    );
  }

  function editComment(item, comment) {
    const fieldId = `edit-comment-${comment.id}`;
    const field = el('textarea', { id: fieldId, rows: 3, maxlength: 10000, required: true });
    field.value = comment.text;
    const cancel = () => {
      renderComment(item, comment);
      item.querySelector('button').focus();
    };
    const form = el('form', { class: 'comment-edit' },
      el('label', { class: 'visually-hidden', for: fieldId, text: 'Comment text' }),
      field,
      el('div', { class: 'comment-edit-actions' },
        el('button', { type: 'submit', class: 'button button-small button-primary', text: 'Save' }),
        el('button', { type: 'button', class: 'button button-small', text: 'Cancel', onclick: cancel })));
    // Escape while editing cancels the edit, not the whole view.
    form.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') {
        event.preventDefault();
        event.stopPropagation();
        cancel();
      }
    });
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const buttons = form.querySelectorAll('button');
      buttons.forEach((button) => { button.disabled = true; });
      try {
        const changed = await api('PUT', comment.comm_url, { body: { text: field.value }, credentialUrl: comment.comm_url });
        renderComment(item, changed);
        item.querySelector('button').focus();
        toast('Comment saved');
      } catch (error) {
        explainRefusal(error, showViewerError);
        buttons.forEach((button) => { button.disabled = false; });
      }
    });
    item.replaceChildren(form);
    field.focus();
  }

  async function deleteComment(item, comment) {
    if (!window.confirm('Delete this comment?')) return;
    try {
      await api('DELETE', comment.comm_url, { credentialUrl: comment.comm_url });
      forgetToken(comment.comm_url);
      item.remove();
      viewer.commentIds.delete(comment.id);
      renderCommentsState();
      changeCommentCount(-1);
      $('comment-text').focus();
      toast('Comment deleted');
    } catch (error) {
      explainRefusal(error, showViewerError);
    }
  }

  function changeCommentCount(delta) {
    if (!viewer.image) return;
    viewer.image = { ...viewer.image, comments_count: Math.max(0, (viewer.image.comments_count || 0) + delta) };
    updateCard(viewer.image);
  }

  function setUpComments() {
    $('comment-form').addEventListener('submit', async (event) => {
      event.preventDefault();
      const image = viewer.image;
      const field = $('comment-text');
      if (!image || !field.value.trim()) return;
      const button = event.target.querySelector('button[type="submit"]');
      button.disabled = true;
      showViewerError('');
      try {
        const created = await api('POST', image.comm_url, { body: { text: field.value } });
        rememberToken(created.comm_url, created.edit_token);
        if (viewer.image && viewer.image.id === image.id) {
          appendComment(created);
          renderCommentsState();
          changeCommentCount(1);
          field.value = '';
        }
      } catch (error) {
        explainRefusal(error, showViewerError);
      } finally {
        button.disabled = false;
      }
    });
    $('comments-more').addEventListener('click', async () => {
      if (!viewer.commentsNext) return;
      try {
        await loadComments(viewer.commentsNext, viewer.id);
      } catch (error) {
        showViewerError(error.message);
      }
    });
  }

  function setUpViewer() {
    const dialog = $('viewer');
    $('viewer-close').addEventListener('click', leaveViewer);
    $('viewer-delete').addEventListener('click', deleteImage);
    // Escape: the browser would close the dialog by itself; the URL must follow.
    dialog.addEventListener('cancel', (event) => {
      event.preventDefault();
      leaveViewer();
    });
    // A click on the backdrop (the dialog box itself, outside its content) closes it.
    dialog.addEventListener('click', (event) => {
      if (event.target === dialog) leaveViewer();
    });
    window.addEventListener('hashchange', route);
    window.addEventListener('popstate', route);
  }

  // -- start ------------------------------------------------------------------

  setUpKeyPanel();
  setUpUploads();
  setUpViewer();
  setUpComments();
  setUpGrid();
  route();
}());
