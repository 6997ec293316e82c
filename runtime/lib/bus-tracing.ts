/**
 * Carries the trace across the bus: events published while handling a request get its W3C
 * `traceparent` (the outbox does the same for events it stores), and a consumer handling an event
 * that has one runs inside a span continuing that trace, with the event's trace id in its logs and
 * on any call it makes. One upload is then one trace from the gateway to the analytics consumer.
 */
import type { Logger } from './logger.ts';
import { currentRequest, type RequestContext, requestContext } from './request-context.ts';
import type { Bus, BusEvent } from './storage/bus.ts';
import type { Tracing } from './tracing.ts';

export function tracedBus(bus: Bus, tracing: Tracing, log: Logger): Bus {
  return {
    publish(topic, event) {
      const traceparent = event.traceparent ?? currentRequest()?.traceparent;
      return bus.publish(topic, traceparent ? { ...event, traceparent } : event);
    },
    publishMany: (items) => bus.publishMany(items),
    subscribe(topic, group, handler, options) {
      return bus.subscribe(
        topic,
        group,
        async (event: BusEvent, info) => {
          const parent = typeof event.traceparent === 'string' ? event.traceparent : undefined;
          if (!parent) return handler(event as never, info);
          const span = tracing.startServerSpan(`consume ${info.topic}`, parent, {
            'messaging.system': 'platform-bus',
            'messaging.destination.name': info.topic,
            'messaging.consumer.group.name': group,
            'messaging.message.id': event.id,
          });
          const ctx: RequestContext = {
            reqId: event.id,
            traceId: span.traceId,
            traceparent: span.traceparent,
            log: log.child({ traceId: span.traceId, eventId: event.id }),
          };
          try {
            await requestContext.run(ctx, () => handler(event as never, info));
            span.end();
          } catch (err) {
            span.end(err instanceof Error ? err.message : true);
            throw err;
          }
        },
        options,
      );
    },
    ping: () => bus.ping(),
    close: () => bus.close(),
  };
}
