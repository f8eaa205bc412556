// The console's registration panel (issue 12): the judge or clerk registers the people on
// their own hearing (legal name, ID, phone, optional e-mail, reference photo) through the same
// endpoints staff use; the server checks everything and its refusals are shown next to the
// field they concern. The list shows only what the server tells the console: registered or
// not, the ID's last four characters, whether there is a reference photo.
import { api } from './api.js';
import { h, clear, setT } from './dom.js';
import { icon } from './icons.js';
import { residentIdHint } from './identity.js';
import { roleKey, ROLE_ORDER } from './roles.js';
import { toast } from './ui.js';

const ID_TYPES = ['resident_id', 'passport', 'other'];
// The field each of the server's refusals is about; any other code is shown under the form.
const FIELD_OF = {
  invalid_name: 'legal_name',
  invalid_phone: 'phone',
  invalid_email: 'email',
  no_face: 'photo',
  multiple_faces: 'photo',
  image_invalid: 'photo',
  step_unavailable: 'photo',
};
const fieldOf = (code) => FIELD_OF[code] || (code.startsWith('id_') ? 'id_number' : null);

/** The registration panel for the console of someone who may register_identity. */
export function registrationPanel(session, ctx) {
  const list = h('ul', { class: 'reg-list' });
  const fields = {};
  const errors = {};
  const field = (name, key, control, extra = null) => {
    fields[name] = control;
    control.id = `reg-${name.replace('_', '-')}`;
    errors[name] = h('p', { class: 'field-error', role: 'alert', hidden: true, dataset: { errorFor: name } });
    return h('label', { class: 'field', for: control.id }, h('span', { t: key }), control, extra, errors[name]);
  };
  const idHint = h('p', { class: 'field-hint', 'aria-live': 'polite' });
  const idType = h('select', { name: 'id_type' },
    ...ID_TYPES.map((v) => h('option', { value: v, t: `registration.idType.${v}` })));
  const title = h('h3');
  const keepHint = h('p', { class: 'hint', t: 'registration.keepHint', hidden: true });
  const formError = h('p', { class: 'field-error', role: 'alert', hidden: true, dataset: { errorFor: 'form' } });
  const save = h('button', { type: 'submit', class: 'primary', t: 'registration.save', dataset: { action: 'save-registration' } });
  const cancel = h('button', { type: 'button', class: 'ghost', t: 'registration.cancel', dataset: { action: 'cancel-registration' } });
  const form = h('form', { class: 'reg-form', hidden: true, novalidate: true, dataset: { testid: 'registration-form' } },
    title, keepHint,
    field('legal_name', 'registration.legalName', h('input', { type: 'text', maxlength: '100', autocomplete: 'off' })),
    field('id_type', 'registration.idType', idType),
    field('id_number', 'registration.idNumber', h('input', { type: 'text', maxlength: '40', autocomplete: 'off', spellcheck: 'false' }), idHint),
    field('phone', 'registration.phone', h('input', { type: 'tel', maxlength: '32', autocomplete: 'off' })),
    field('email', 'registration.email', h('input', { type: 'email', maxlength: '254', autocomplete: 'off' })),
    field('photo', 'registration.photo', h('input', { type: 'file', accept: 'image/jpeg,image/png' })),
    formError,
    h('div', { class: 'row' }, save, cancel));
  const el = h('section', { class: 'panel registration-panel', dataset: { testid: 'registration-panel' } },
    h('h2', {}, icon('edit'), h('span', { t: 'registration.title' })),
    h('p', { class: 'hint', t: 'registration.hint' }), list, form);

  let editing = null;  // the participant being registered

  function showIdHint() {
    const residentId = idType.value === 'resident_id';
    const hint = residentId ? residentIdHint(fields.id_number.value) : null;
    idHint.hidden = !residentId || hint === 'empty';
    if (!idHint.hidden) {
      idHint.dataset.hint = hint;
      setT(idHint, `identity.hint.${hint}`);
    }
  }
  fields.id_number.addEventListener('input', showIdHint);
  idType.addEventListener('change', showIdHint);

  function clearErrors() {
    for (const [name, err] of Object.entries(errors)) {
      err.hidden = true;
      fields[name].removeAttribute('aria-invalid');
    }
    formError.hidden = true;
  }
  function showError(code) {
    const name = fieldOf(code);
    const err = name ? errors[name] : formError;
    err.hidden = false;
    setT(err, `error.${code}`);
    if (name) {
      fields[name].setAttribute('aria-invalid', 'true');
      fields[name].focus();
    }
  }

  function open(p) {
    const id = session.identity.get(p.id);
    editing = p;
    clearErrors();
    setT(title, 'registration.formTitle', { name: p.display_name });
    for (const name of ['id_number', 'phone', 'email']) fields[name].value = '';
    fields.photo.value = '';
    fields.legal_name.value = p.display_name;
    idType.value = id?.id_type || 'resident_id';
    keepHint.hidden = !id?.registered;
    showIdHint();
    form.hidden = false;
    render();
    fields.legal_name.focus();
  }
  function close() {
    editing = null;
    form.hidden = true;
    render();
  }
  cancel.addEventListener('click', close);

  async function putPhoto(pid, file) {
    await api(ctx.token, `/api/participants/${encodeURIComponent(pid)}/reference-photo`,
      { method: 'PUT', body: file, contentType: file.type || 'application/octet-stream' });
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!editing) return;
    clearErrors();
    const p = editing;
    const registered = Boolean(session.identity.get(p.id)?.registered);
    const value = (name) => fields[name].value.trim();
    const file = fields.photo.files[0] || null;
    // Someone registered already may change only the photo: the ID and phone left empty.
    const photoOnly = registered && file && !value('id_number') && !value('phone');
    if (!photoOnly) {
      for (const name of ['legal_name', 'id_number', 'phone']) {
        if (!value(name)) {
          errors[name].hidden = false;
          setT(errors[name], 'registration.required');
          fields[name].setAttribute('aria-invalid', 'true');
        }
      }
      if (!['legal_name', 'id_number', 'phone'].every(value)) return;
    }
    save.disabled = true;
    try {
      if (!photoOnly) {
        await api(ctx.token, `/api/participants/${encodeURIComponent(p.id)}/registration`, {
          method: 'PUT',
          json: {
            legal_name: value('legal_name'), id_type: idType.value, id_number: value('id_number'),
            phone: value('phone'), email: value('email') || null,
          },
        });
      }
      if (file) await putPhoto(p.id, file);
      toast('registration.saved', { name: p.display_name }, 5000);
      close();
    } catch (err) {
      showError(err.code);
      // The registration was saved before the photo was refused: say so, keep the form.
      if (!photoOnly && fieldOf(err.code) === 'photo') keepHint.hidden = false;
    } finally {
      save.disabled = false;
    }
  });

  function row(p) {
    const id = session.identity.get(p.id);
    const registered = Boolean(id?.registered);
    const photo = Boolean(id?.reference_photo);
    return h('li', { class: 'reg-row', dataset: { participantId: p.id, registered: String(registered), photo: String(photo) } },
      h('span', { class: 'pwho' }, h('span', { class: 'pname', text: p.display_name }), h('span', { class: 'prole', t: roleKey(p) })),
      h('span', { class: 'reg-facts' },
        h('span', { class: `id-badge ${registered ? 'ok' : 'locked'}`, dataset: { badge: 'registered' },
          t: registered ? 'registration.registered' : 'registration.unregistered' }),
        registered && id.id_last4 ? h('span', { class: 'id-badge', dataset: { badge: 'id-last4' },
          t: 'registration.idLast4', tp: { last4: id.id_last4 } }) : null,
        h('span', { class: `id-badge ${photo ? 'ok' : ''}`, dataset: { badge: 'photo' },
          t: photo ? 'registration.photoYes' : 'registration.photoNo' })),
      h('button', {
        type: 'button', class: `${registered ? 'ghost' : 'secondary'} small`, dataset: { action: 'register-person' },
        t: registered ? 'registration.update' : 'registration.register', 'aria-expanded': String(editing?.id === p.id),
        on: { click: () => (editing?.id === p.id ? close() : open(p)) },
      }));
  }

  function render() {
    // The courtroom screen is a device, not a person on the case.
    const people = [...session.participants.values()].filter((p) => p.role !== 'courtroom_display')
      .sort((a, b) => (ROLE_ORDER.indexOf(a.role) - ROLE_ORDER.indexOf(b.role)) || a.display_name.localeCompare(b.display_name));
    clear(list).append(...people.map(row));
  }

  session.addEventListener('participants', render);
  session.addEventListener('identity', render);
  return { el, render };
}
