import { MessageBody, SubscribeMessage, WebSocketGateway, WebSocketServer } from '@nestjs/websockets';
import { Connected, CurrentUser } from 'nestjs-connected';
import type { Server } from 'socket.io';

/**
 * A small live channel for connected users. The socket's session comes from the cookie at the handshake
 * (`SessionIoAdapter` refuses strangers); logging out, or out everywhere, over HTTP disconnects the sockets of the
 * closed sessions with a `session_end` event.
 */
@Connected()
@WebSocketGateway()
export class ChatGateway {
  @WebSocketServer()
  private readonly server!: Server;

  @SubscribeMessage('whoami')
  whoami(@CurrentUser() user: string) {
    return { event: 'whoami', data: { user } };
  }

  /** Sends a line to every connected user (staff and admins). */
  @Connected({ allow: ['staff', 'admin'], deny: ['banned'] })
  @SubscribeMessage('say')
  say(@CurrentUser() user: string, @MessageBody() text: unknown) {
    const line = { from: user, text: String(text).slice(0, 500) };
    this.server.emit('line', line);
    return { event: 'say', data: line };
  }
}
