export { reserveNbdSlot, NBD_MODULE_REMEDY, type NbdConnectResult, type NbdSlot, type ReserveNbdSlotOptions } from './nbd-slot.js';
export { qemuNbdDeviceBinding, isDeviceTakenMessage, type QemuNbdDeviceBinding } from './qemu-nbd-binding.js';
export { nbdSlotPaths, type NbdSlotPaths, type NbdSlotRoots } from './slot-paths.js';
export { parseReservations, formatReservations, RESERVATION_TTL_SECONDS, type NbdReservation } from './reservations.js';
