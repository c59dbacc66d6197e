/**
 * A command's result, narrowed to its command's kind. The node knows which command it proposed
 * at an index, so any other kind of result there is a bug.
 */
import type {
  AcquireCommandResult,
  CommandResult,
  ExpireCommandResult,
  RefreshCommandResult,
  ReleaseCommandResult,
} from '../locks/commands.js';
import { AssertionError } from '../util/assert.js';

export function asAcquireResult(result: CommandResult): AcquireCommandResult {
  switch (result.outcome) {
    case 'acquired':
    case 'conflict':
    case 'limit-reached':
      return result;
    default:
      throw mismatch('acquire', result);
  }
}

export function asReleaseResult(result: CommandResult): ReleaseCommandResult {
  switch (result.outcome) {
    case 'released':
    case 'not-locked':
      return result;
    case 'not-owner':
      // Refresh has a not-owner outcome of the same shape: both list the holders.
      return result;
    default:
      throw mismatch('release', result);
  }
}

export function asRefreshResult(result: CommandResult): RefreshCommandResult {
  switch (result.outcome) {
    case 'refreshed':
    case 'not-locked':
    case 'not-owner':
      return result;
    default:
      throw mismatch('refresh', result);
  }
}

export function asExpireResult(result: CommandResult): ExpireCommandResult {
  switch (result.outcome) {
    case 'expired':
    case 'not-expired':
      return result;
    default:
      throw mismatch('expire', result);
  }
}

function mismatch(kind: string, result: CommandResult): AssertionError {
  return new AssertionError(`a ${kind} entry applied with result ${result.outcome}`);
}
