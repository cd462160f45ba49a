// Following the session: the `/v1/events` WebSocket, with back-off on a drop and the state read again on every
// (re)connect, so the screen shows exactly what the lane holds whatever it missed while disconnected.
import { getJSON } from './api.js';

const FIRST_DELAY_MS = 250;
const MAX_DELAY_MS = 5000;

export function follow({ onSession, onEvent, onConnected }) {
  let socket = null;
  let delay = FIRST_DELAY_MS;

  function open() {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    socket = new WebSocket(`${scheme}://${location.host}/v1/events`);
    let heard = false;
    socket.onopen = async () => {
      delay = FIRST_DELAY_MS;
      onConnected(true);
      try {
        const view = await getJSON('/v1/session');
        // The server subscribed this socket before the handshake ended, so every commit after that arrives
        // here; once one has, it is at least as new as this read, which could otherwise overwrite it.
        if (!heard) onSession(view);
      } catch {
        socket.close();
      }
    };
    socket.onmessage = (message) => {
      const event = JSON.parse(message.data);
      if (event.type === 'session') {
        heard = true;
        onSession(event.session);
      } else {
        onEvent(event);
      }
    };
    socket.onclose = () => {
      onConnected(false);
      const jitter = 0.8 + Math.random() * 0.4;        // screens restarted together do not retry in step
      setTimeout(open, delay * jitter);
      delay = Math.min(delay * 2, MAX_DELAY_MS);
    };
  }

  open();
  return { get connected() { return socket?.readyState === WebSocket.OPEN; } };
}
