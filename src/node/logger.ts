/** What the node logs through (pino in production; tests record the lines). */
export interface NodeLogger {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}
