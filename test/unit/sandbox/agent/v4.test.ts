import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  V4_EVENT_TYPES, v4Event, v4Message, v4RoomProperties, v4Stream, v4User, type V4Directory, type V4StreamSource, type V4UserSource,
} from '../../../../src/sandbox/agent/v4.js';
import { newId, standardBase64Id } from '../../../../src/sandbox/ids.js';
import type { EventKind } from '../../../../src/sandbox/store/events.js';

const alice: V4UserSource = { id: 11, username: 'alice', displayName: 'Alice Archer', firstName: 'Alice', lastName: 'Archer', email: 'alice@sandbox.invalid' };
const bob: V4UserSource = { id: 12, username: 'bob', displayName: 'Bob Baker', firstName: 'Bob', lastName: 'Baker', email: 'bob@sandbox.invalid' };
const room: V4StreamSource = {
  id: newId(), type: 'ROOM', createdBy: 11, createdAt: 5, members: [11, 12],
  attributes: { name: 'Deals', description: 'd', readOnly: true, viewHistory: true, keywords: [{ key: 'region', value: 'EMEA' }, 'junk'] },
};
const im: V4StreamSource = { id: newId(), type: 'IM', createdBy: 11, createdAt: 6, members: [11, 12], attributes: {} };
const dir: V4Directory = {
  podId: 196,
  user: (id) => [alice, bob].find((u) => u.id === id),
  stream: (id) => [room, im].find((s) => s.id === id),
};

describe('V4 shapes', () => {
  it('V4User names a user; an unknown one by id only', () => {
    expect(v4User(dir, 11)).toEqual({ userId: 11, firstName: 'Alice', lastName: 'Archer', displayName: 'Alice Archer', email: 'alice@sandbox.invalid', username: 'alice' });
    expect(v4User(dir, 99)).toEqual({ userId: 99 });
  });

  it('V4Stream: URL-safe id, type, room name; members and tenant ids only when asked', () => {
    const standard = standardBase64Id(room.id);
    expect(v4Stream({ ...dir, stream: (id) => (id === standard ? room : undefined) }, standard).streamId).toBe(room.id);
    expect(v4Stream(dir, room.id)).toEqual({ streamId: room.id, streamType: 'ROOM', roomName: 'Deals', external: false, crossPod: false });
    expect(v4Stream(dir, im.id, { realTime: true, members: true })).toMatchObject({ streamType: 'IM', recipientTenantIds: [196], members: [{ userId: 11 }, { userId: 12 }] });
  });

  it('V4RoomProperties: defaults for absent flags, keywords as key/value pairs, viewHistory as canViewHistory', () => {
    expect(v4RoomProperties(dir, room.id)).toEqual({
      name: 'Deals', description: 'd', creatorUser: v4User(dir, 11), createdDate: 5, external: false, crossPod: false, public: false,
      copyProtected: false, readOnly: true, discoverable: true, membersCanInvite: true, keywords: [{ key: 'region', value: 'EMEA' }], canViewHistory: true,
    });
  });

  it('V4Message: content or diagnostic, attachments with previews, update fields, real-time fields', () => {
    const messageId = newId();
    const m = {
      messageId, streamId: room.id, fromUserId: 12, ingestionDate: 77,
      posted: {
        clientVersionInfo: 'bdk', format: 'com.symphony.messageml.v2', replacing: standardBase64Id(messageId), initialTimestamp: 70, silent: false,
        attachments: [{ fileId: 'f1', name: 'a.png', size: 3, images: [{ fileId: 'p1' }, { nope: 1 }] }, { name: 'no id' }],
      },
    };
    const content = { presentationML: '<div>hi</div>', entityJson: { k: 1 } };
    const replacement = newId();
    expect(v4Message(dir, m, content, { realTime: true, replacedBy: standardBase64Id(replacement) })).toEqual({
      messageId, timestamp: 77, message: '<div>hi</div>', data: '{"k":1}', attachments: [{ id: 'f1', name: 'a.png', size: 3, images: [{ id: 'p1' }] }],
      user: v4User(dir, 12), stream: v4Stream(dir, room.id, { realTime: true }), externalRecipients: false, userAgent: 'bdk',
      originalFormat: 'com.symphony.messageml.v2', replacing: messageId, initialTimestamp: 70, silent: false, replacedBy: replacement,
    });
    const failed = v4Message(dir, { ...m, posted: {} }, { diagnostic: 'Decryption failed.' });
    expect(failed).toMatchObject({ message: '', data: '{}', diagnostic: 'Decryption failed.', attachments: [] });
    expect(failed).not.toHaveProperty('externalRecipients');
  });

  it('V4Event of every kind: the Agent\'s type name, the payload key, the kind\'s facts', () => {
    const base = { seq: 9, initiator: 11, timestamp: 100, streamId: room.id };
    const event = (kind: EventKind, extra: object = {}) => v4Event(dir, { ...base, kind, ...extra }) as { payload: Record<string, Record<string, unknown>> } & Record<string, unknown>;
    expect(event('JOIN_ROOM', { affectedUserId: 12 })).toEqual({
      id: 'e9', timestamp: 100, type: 'USERJOINEDROOM', initiator: { user: v4User(dir, 11) },
      payload: { userJoinedRoom: { stream: v4Stream(dir, room.id, { realTime: true }), affectedUser: v4User(dir, 12) } },
    });
    expect(event('CREATE_IM', { streamId: im.id }).payload.instantMessageCreated!.stream).toMatchObject({ members: [{ userId: 11 }, { userId: 12 }] });
    expect(event('CREATE_ROOM').payload.roomCreated!.roomProperties).toMatchObject({ name: 'Deals' });
    expect(event('UPDATE_ROOM').payload.roomUpdated!.newRoomProperties).toMatchObject({ readOnly: true });
    expect(event('CONNECTION_REQUESTED', { streamId: undefined, affectedUserId: 12 }).payload).toEqual({ connectionRequested: { toUser: v4User(dir, 12) } });
    expect(event('CONNECTION_ACCEPTED', { streamId: undefined, affectedUserId: 12 }).payload).toEqual({ connectionAccepted: { fromUser: v4User(dir, 12) } });
    const suppressedId = newId();
    expect(event('MESSAGE_SUPPRESSED', { payload: { messageId: standardBase64Id(suppressedId) } }).payload.messageSuppressed).toMatchObject({ messageId: suppressedId });
    expect(event('ELEMENTS_ACTION', { payload: { formMessageId: suppressedId, formId: 'f', formValues: { action: 'ok' } } }).payload.symphonyElementsAction)
      .toMatchObject({ formMessageId: suppressedId, formId: 'f', formValues: { action: 'ok' } });
    const message = { messageId: newId(), streamId: room.id, fromUserId: 11, ingestionDate: 100, posted: {} };
    const sent = v4Event(dir, { ...base, kind: 'SOCIALMESSAGE', message }, { messageId: message.messageId });
    expect(sent).toMatchObject({ type: 'MESSAGESENT', messageId: message.messageId, payload: { messageSent: { message: { messageId: message.messageId } } } });
  });

  it('names exactly the event types and payload keys of agent-api-public.yaml', () => {
    const spec = parse(readFileSync(new URL('../../../fixtures/symphony-api-spec/agent/agent-api-public.yaml', import.meta.url), 'utf8')) as {
      components: { schemas: Record<string, { properties: Record<string, { description?: string }> }> };
    };
    const payloadKeys = Object.keys(spec.components.schemas.V4Payload!.properties);
    const typeNames = spec.components.schemas.V4Event!.properties.type!.description!.match(/[A-Z]{6,}/g)!;
    for (const { type, payload } of Object.values(V4_EVENT_TYPES)) {
      expect(typeNames).toContain(type);
      expect(payloadKeys).toContain(payload);
    }
  });
});
