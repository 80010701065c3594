import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { AuthError } from '../../errors/auth-error.js';
import type { Authenticate } from '../../flows/authenticate.js';
import type { ChangePassword } from '../../flows/change-password.js';
import type { Login } from '../../flows/login.js';
import type { PasswordReset } from '../../flows/password-reset.js';
import type { Session } from '../../sessions/session.js';
import type { UserService } from '../../users/service.js';
import type { User } from '../../users/user.js';
import { requireAuth } from '../plugins/auth-context.js';
import { eventContext, userAgentOf } from '../plugins/request-context.js';
import { ChangePasswordBody, ResetConfirmBody, ResetRequestBody, LoginBody, MeResponse, RegisterBody, RegisteredUser, TokenResponseSchema } from '../schemas/auth.js';
import { EmptyObject, errorResponses, NoContent } from '../schemas/common.js';

function registeredUser(user: User) {
  return {
    id: user.id,
    username: user.username,
    email: user.email,
    roles: user.roles,
    permissions: user.permissions,
    created_at: user.createdAt.toISOString(),
  };
}

/** A session as clients see it (GET /auth/me, GET /auth/sessions). */
export function sessionView(session: Session) {
  return {
    id: session.id,
    device_name: session.deviceName,
    ip: session.ip,
    user_agent: session.userAgent,
    created_at: session.createdAt.toISOString(),
    last_active_at: session.lastActiveAt.toISOString(),
    expires_at: session.expiresAt.toISOString(),
  };
}

export interface AuthRouteOptions {
  login: Login;
  users: Pick<UserService, 'register'>;
  authenticate: Authenticate;
  changePassword: ChangePassword;
  passwordReset: Pick<PasswordReset, 'request' | 'confirm'>;
}

/** Sign-in, sign-up, the caller's own account, password change and reset. */
export async function authRoutes(base: FastifyInstance, options: AuthRouteOptions): Promise<void> {
  const { login, users, authenticate, changePassword, passwordReset } = options;
  const app = base.withTypeProvider<TypeBoxTypeProvider>();

  app.post(
    '/auth/login',
    { schema: { body: LoginBody, response: { 200: TokenResponseSchema, ...errorResponses } } },
    async (request) => {
      const { username, email, password, device, device_token: deviceToken } = request.body;
      if ((username === undefined) === (email === undefined)) {
        throw new AuthError('invalid_request', { description: 'Give exactly one of username or email.' });
      }
      return login({
        username,
        email,
        password,
        device,
        deviceToken,
        ip: request.clientIp,
        userAgent: userAgentOf(request),
        context: eventContext(request),
      });
    },
  );

  app.post(
    '/auth/register',
    { schema: { body: RegisterBody, response: { 201: RegisteredUser, ...errorResponses } } },
    async (request, reply) => {
      const user = await users.register(request.body, eventContext(request));
      return reply.code(201).send(registeredUser(user));
    },
  );

  app.get('/auth/me', { schema: { response: { 200: MeResponse, ...errorResponses } } }, async (request) => {
    const { user, claims, session } = await requireAuth(request, authenticate);
    return {
      user: registeredUser(user),
      roles: claims.roles,
      permissions: claims.permissions,
      amr: claims.amr,
      session: sessionView(session),
    };
  });

  app.post(
    '/auth/password',
    { schema: { body: ChangePasswordBody, response: { 204: NoContent, ...errorResponses } } },
    async (request, reply) => {
      const { claims } = await requireAuth(request, authenticate);
      await changePassword({
        userId: claims.sub,
        sessionId: claims.sid,
        currentPassword: request.body.current_password,
        newPassword: request.body.new_password,
        context: eventContext(request),
      });
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/auth/password-reset',
    { schema: { body: ResetRequestBody, response: { 202: EmptyObject, ...errorResponses } } },
    async (request, reply) => {
      const { username, email } = request.body;
      if ((username === undefined) === (email === undefined)) {
        throw new AuthError('invalid_request', { description: 'Give exactly one of username or email.' });
      }
      await passwordReset.request({ username, email }, eventContext(request));
      return reply.code(202).send({});
    },
  );

  app.post(
    '/auth/password-reset/confirm',
    { schema: { body: ResetConfirmBody, response: { 204: NoContent, ...errorResponses } } },
    async (request, reply) => {
      await passwordReset.confirm(
        { token: request.body.token, newPassword: request.body.new_password },
        eventContext(request),
      );
      return reply.code(204).send(null);
    },
  );
}
